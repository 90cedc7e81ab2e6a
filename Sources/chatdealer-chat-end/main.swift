import ChatHooksCore

Server.main(.fixed(.chatEnd))
