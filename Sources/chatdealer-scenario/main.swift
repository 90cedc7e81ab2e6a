import ChatHooksCore

Server.main(.fixed(.chatdealer(.scenario)))
