"""The pieces of :class:`langchain_memstore.MemstoreGraphStore`: entry codec, validation, filters, TTL."""
