import ChatHooksCore

CGITransport.main(.spaloDataset)
