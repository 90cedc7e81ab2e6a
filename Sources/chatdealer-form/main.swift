import ChatHooksCore

Server.main(.fixed(.form))
