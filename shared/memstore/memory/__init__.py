"""Conversation memory: messages kept in the buffer store and recalled by hybrid (dense + keyword) search."""

from memstore.memory.conversation import ConversationMemory, ScoredMessage

__all__ = ["ConversationMemory", "ScoredMessage"]
