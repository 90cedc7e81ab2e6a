import ChatHooksCore

Server.main(.fixed(.spaloSearch))
