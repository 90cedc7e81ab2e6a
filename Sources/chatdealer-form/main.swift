import ChatHooksCore

Server.main(.fixed(.chatdealer(.form)))
