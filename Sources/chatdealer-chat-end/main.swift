import ChatHooksCore

Server.main(.fixed(.chatdealer(.chatEnd)))
