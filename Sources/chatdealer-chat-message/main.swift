import ChatHooksCore

Server.main(.fixed(.chatdealer(.chatMessage)))
