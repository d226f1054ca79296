"""aiocoap's OSCORE protect / verify of the benchmark request, in-process.

The counterpart of `benches::ops::msg` in the Rust suite, for
`cargo xtask bench --compare aiocoap`: the RFC 8613 Appendix C.1 client and
server contexts (read from test-vectors/rfc8613_appendix_c.json) with each
AEAD of `AEADS`, and the same request as `benches::fixtures::request` (the
C.4 request, POST with N payload bytes 0xa5 when N > 0). Messages are aiocoap
`Message` objects in and out, without wire encoding; the report sets them
beside the Rust `Packet` API (objects in and out) and the Rust byte API
(wire bytes in, which it parses, and a view out). Sequence numbers start at 2**16 (3-byte Partial
IVs), as in the Rust fixtures; both sides keep state in memory.

Before measuring, the C.4 request is protected with sequence number 20 and
must give the ciphertext of the vector file, so the context is the right one.

Usage: python oscore_bench.py VECTORS_JSON OUT_JSON [SIZES, default 0,64,1024]
"""

import json
import statistics
import sys
import time
from importlib.metadata import version

import aiocoap
import aiocoap.oscore as oscore
from aiocoap.message import Direction
from aiocoap.numbers.codes import Code
from cryptography.hazmat.primitives import hashes

FIRST_SSN = 1 << 16
REPEATS = 7
# aiocoap's names; the Rust report maps them to its benchmark groups.
AEADS = ["AES-CCM-16-64-128", "A128GCM", "ChaCha20/Poly1305"]
TARGET_SECONDS = 0.15


class MemoryContext(oscore.CanProtect, oscore.CanUnprotect, oscore.SecurityContextUtils):
    """An OSCORE context kept in memory (aiocoap ships only a filesystem one)."""

    def __init__(self, inputs, alg="AES-CCM-16-64-128", ssn=FIRST_SSN):
        self.sender_id = bytes.fromhex(inputs["sender_id"])
        self.recipient_id = bytes.fromhex(inputs["recipient_id"])
        self.id_context = None
        self.alg_aead = oscore.algorithms[alg]
        self.hashfun = hashes.SHA256()
        self.derive_keys(bytes.fromhex(inputs["master_salt"]), bytes.fromhex(inputs["master_secret"]))
        self.sender_sequence_number = ssn
        self.recipient_replay_window = oscore.ReplayWindow(32, lambda: None)
        self.recipient_replay_window.initialize_empty()

    def post_seqnoincrease(self):
        # In memory, like the Rust side's MemoryStore: nothing to persist.
        pass


def request(n):
    code = Code.GET if n == 0 else Code.POST
    m = aiocoap.Message(code=code, payload=b"\xa5" * n)
    m.opt.uri_host = "localhost"
    m.opt.uri_path = ("tv1",)
    return m


def incoming(protected):
    # What aiocoap's parser sets on a received message; unprotect requires it.
    protected.direction = Direction.INCOMING
    return protected


def per_op_ns(fn, iterations):
    """Median over REPEATS of the mean time of one call of fn(i)."""
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for i in range(iterations):
            fn(i)
        samples.append((time.perf_counter_ns() - start) / iterations)
    return statistics.median(samples)


def calibrate(fn):
    start = time.perf_counter_ns()
    fn(0)
    once = max(time.perf_counter_ns() - start, 1)
    return max(50, int(TARGET_SECONDS * 1e9 / once))


def measure(inputs, alg, n):
    """protect, verify and protect+verify of the n-byte request under alg."""
    client, server = MemoryContext(inputs["C.1.1"], alg), MemoryContext(inputs["C.1.2"], alg)
    msg = request(n)

    def protect(_):
        client.protect(msg)

    def roundtrip(_):
        p, _ = client.protect(msg)
        server.unprotect(incoming(p))

    it = calibrate(roundtrip)
    protect_ns = per_op_ns(protect, it)
    verify_samples = []
    for _ in range(REPEATS):
        batch = [incoming(client.protect(msg)[0]) for _ in range(it)]
        start = time.perf_counter_ns()
        for p in batch:
            server.unprotect(p)
        verify_samples.append((time.perf_counter_ns() - start) / it)
    verify_ns = statistics.median(verify_samples)
    roundtrip_ns = per_op_ns(roundtrip, it)
    print(f"aiocoap {alg:18} {n:5} B: protect {protect_ns/1e3:8.1f} us  verify {verify_ns/1e3:8.1f} us  "
          f"protect+verify {roundtrip_ns/1e3:8.1f} us")
    return {
        "aead": alg,
        "payload": n,
        "iterations": it,
        "protect_request_ns": protect_ns,
        "verify_request_ns": verify_ns,
        "protect_verify_request_ns": roundtrip_ns,
    }


def main():
    vectors_path, out_path = sys.argv[1], sys.argv[2]
    sizes = [int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "0,64,1024").split(",")]
    vectors = json.load(open(vectors_path))
    inputs = {e["section"]: e["inputs"] for e in vectors["key_derivation"]}
    c4 = next(e for e in vectors["message_protection"] if e["section"] == "C.4")

    check = MemoryContext(inputs["C.1.1"], ssn=20)
    protected, _ = check.protect(request(0))
    if protected.payload.hex() != c4["derived"]["ciphertext"]:
        sys.exit("aiocoap did not reproduce the RFC 8613 C.4 ciphertext")

    results = []
    for alg in AEADS:
        for n in sizes:
            results.append(measure(inputs, alg, n))

    doc = {
        "aiocoap": version("aiocoap"),
        "cryptography": version("cryptography"),
        "python": sys.version.split()[0],
        "results": results,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
