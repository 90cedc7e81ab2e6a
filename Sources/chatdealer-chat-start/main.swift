import ChatHooksCore

Server.main(.fixed(.chatdealer(.chatStart)))
