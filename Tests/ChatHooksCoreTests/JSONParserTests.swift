import Testing
@testable import ChatHooksCore
