"""In-memory backends: the same contracts as SQL, for tests and ephemeral use (nothing is persisted)."""

from memstore.backends.memory.chat import MemoryChatBackend
from memstore.backends.memory.checkpoints import MemoryCheckpointBackend
from memstore.backends.memory.kv import MemoryKVBackend

__all__ = ["MemoryChatBackend", "MemoryCheckpointBackend", "MemoryKVBackend"]
