"""Conversation memory: messages kept in the buffer store and recalled by hybrid (dense + keyword) search."""

from memstore.memory.conversation import ConversationMemory, MemoryStats, ScoredMessage, UnsupportedOperation

__all__ = ["ConversationMemory", "MemoryStats", "ScoredMessage", "UnsupportedOperation"]
