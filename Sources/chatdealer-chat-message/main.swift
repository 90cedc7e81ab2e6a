import ChatHooksCore

Server.main(.fixed(.chatMessage))
