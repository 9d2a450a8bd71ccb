"""The live side: WebSocket authentication, consumers, presence of units on duty."""
