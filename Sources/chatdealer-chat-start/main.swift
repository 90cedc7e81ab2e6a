import ChatHooksCore

Server.main(.fixed(.chatStart))
