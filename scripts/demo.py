"""`make demo`: a short end-to-end run on the embedded default (a SQLite file under ./memstore_data/).

No server and no network: everything lives in one folder you can delete afterwards.
"""

from __future__ import annotations

import logging

from memstore import DEFAULT_URL, Memstore

logging.basicConfig(level=logging.INFO, format="%(message)s")
log = logging.getLogger("memstore.demo")


def main() -> None:
    with Memstore(DEFAULT_URL) as store:
        log.info("memstore demo on %s", DEFAULT_URL)
        kv = store.kv.namespace_store("demo")
        kv.mset({"user:1:name": "Ada", "user:1:lang": "en", "user:2:name": "Grace"})
        log.info("  kv: user:1:* -> %s", kv.get_by_prefix("user:1:"))
        worker = "worker-a"
        if kv.exclusive_set("job:nightly", worker, expiry=5):
            log.info(
                "  lease: %s holds job:nightly for 5 s; a second claim now returns %s",
                worker,
                kv.exclusive_set("job:nightly", "worker-b", expiry=5),
            )
        kv.delete_by_prefix("")
    log.info("done: data kept in ./memstore_data/")


if __name__ == "__main__":
    main()
