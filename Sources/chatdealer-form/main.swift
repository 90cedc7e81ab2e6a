import ChatHooksCore

CGITransport.main(.chatdealer(.form))
