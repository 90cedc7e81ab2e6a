import ChatHooksCore

Server.main(.fixed(.spaloDataset))
