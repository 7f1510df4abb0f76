"""mmdb_writer.py -- write small MaxMind DB files for the tests.

Debian packages no writer of the format (only readers: libmaxminddb and
mmdblookup), and the tests must make their own databases, so this is one,
following the MaxMind DB File Format Specification 2.0
(https://maxmind.github.io/MaxMind-DB/): a binary search tree over the
address bits, 16 zero bytes, a data section of typed values, then
b"\\xab\\xcd\\xefMaxMind.com" and the metadata map.

Kept small on purpose: records are deduplicated by their encoding rather
than by pointers, and the IPv4 aliases real databases carry in an IPv6
tree (::ffff:0:0/96, 2002::/16) are left out -- libmaxminddb finds IPv4
addresses at ::/96 either way. Tests read every file back with mmdblookup.

Usage: mmdb_writer.py SPEC.json OUT.mmdb, where SPEC.json is
{"ip_version": 6, "record_size": 28, "database_type": "...",
 "networks": [["10.1.0.0/16", {"country": {"iso_code": "DE"}}], ...]}
"""
import ipaddress
import json
import struct
import sys
import time

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"

# Data section type numbers (spec, "Output Data Section").
POINTER, UTF8, DOUBLE, BYTES, UINT16, UINT32, MAP, INT32, UINT64, UINT128, ARRAY = range(1, 12)
BOOLEAN = 14


class Typed:
    """A number with the data type the format must store it as."""

    def __init__(self, type_number, value):
        self.type_number = type_number
        self.value = value


def _control(type_number, size):
    """Control byte, extended type byte, then size bytes."""
    first = (type_number << 5) if type_number <= 7 else 0
    extended = b"" if type_number <= 7 else bytes([type_number - 7])
    if size < 29:
        return bytes([first | size]) + extended
    if size < 29 + 256:
        return bytes([first | 29]) + extended + bytes([size - 29])
    if size < 285 + 65536:
        return bytes([first | 30]) + extended + (size - 285).to_bytes(2, "big")
    return bytes([first | 31]) + extended + (size - 65821).to_bytes(3, "big")


def _unsigned(type_number, value, width):
    if value < 0 or value >= 1 << (8 * width):
        raise ValueError(f"{value} does not fit type {type_number}")
    payload = value.to_bytes(width, "big").lstrip(b"\0")
    return _control(type_number, len(payload)) + payload


def encode(value):
    """One value of the data section, in the format's encoding."""
    if isinstance(value, Typed):
        width = {UINT16: 2, UINT32: 4, UINT64: 8, UINT128: 16}[value.type_number]
        return _unsigned(value.type_number, value.value, width)
    if isinstance(value, bool):
        return _control(BOOLEAN, int(value))
    if isinstance(value, int):
        if value < 0:
            payload = struct.pack(">i", value)
            return _control(INT32, 4) + payload
        if value < 1 << 32:
            return _unsigned(UINT32, value, 4)
        return _unsigned(UINT64, value, 8)
    if isinstance(value, float):
        return _control(DOUBLE, 8) + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(UTF8, len(raw)) + raw
    if isinstance(value, bytes):
        return _control(BYTES, len(value)) + value
    if isinstance(value, dict):
        out = _control(MAP, len(value))
        for key, item in value.items():
            out += encode(str(key)) + encode(item)
        return out
    if isinstance(value, (list, tuple)):
        return _control(ARRAY, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {type(value).__name__}")


class _Data:
    """A leaf of the tree: the offset of a record in the data section."""

    def __init__(self, offset):
        self.offset = offset


def _network_bits(network, ip_version):
    """The network's bits in the tree: IPv4 in an IPv6 tree sits at ::/96."""
    net = ipaddress.ip_network(network)
    if net.version == 6 and ip_version == 4:
        raise ValueError(f"{network}: IPv6 network in an IPv4 database")
    shift = 96 if net.version == 4 and ip_version == 6 else 0
    depth = 128 if ip_version == 6 else 32
    return int(net.network_address), net.prefixlen + shift, depth


def _build_tree(networks, ip_version, data):
    """nodes[i] = [left, right]; each None (empty), an int (node) or _Data."""
    nodes = [[None, None]]
    seen = set()
    placed = []
    for network, record in networks:
        address, plen, depth = _network_bits(network, ip_version)
        if plen == 0:
            raise ValueError("a network must be longer than /0")
        if (address, plen) in seen:
            raise ValueError(f"{network} is listed twice")
        seen.add((address, plen))
        placed.append((plen, address, depth, data(record)))
    # Shorter networks first, so a longer one splits the leaf it falls in.
    for plen, address, depth, leaf in sorted(placed, key=lambda p: p[0]):
        node = 0
        for i in range(plen):
            bit = (address >> (depth - 1 - i)) & 1
            if i == plen - 1:
                nodes[node][bit] = leaf
                break
            child = nodes[node][bit]
            if not isinstance(child, int):
                nodes.append([child, child])  # empty, or the covering record, on both sides
                child = len(nodes) - 1
                nodes[node][bit] = child
            node = child
    return nodes


def _record_value(entry, node_count):
    if entry is None:
        return node_count
    if isinstance(entry, _Data):
        return node_count + 16 + entry.offset
    return entry


def _pack_node(left, right, record_size):
    if max(left, right) >= 1 << record_size:
        raise ValueError(f"record value does not fit {record_size} bits")
    if record_size == 24:
        return left.to_bytes(3, "big") + right.to_bytes(3, "big")
    if record_size == 28:
        middle = ((left >> 24) << 4) | (right >> 24)
        return ((left & 0xFFFFFF).to_bytes(3, "big") + bytes([middle]) +
                (right & 0xFFFFFF).to_bytes(3, "big"))
    if record_size == 32:
        return left.to_bytes(4, "big") + right.to_bytes(4, "big")
    raise ValueError("record_size must be 24, 28 or 32")


def build(networks, ip_version=6, record_size=28, database_type="Cirrus-Test",
          languages=("en",), description="Cirrus test database", build_epoch=None):
    """The bytes of a database holding networks: [(cidr, record), ...]."""
    section = bytearray()
    offsets = {}

    def data(record):
        raw = encode(record)
        if raw not in offsets:
            offsets[raw] = len(section)
            section.extend(raw)
        return _Data(offsets[raw])

    nodes = _build_tree(networks, ip_version, data)
    count = len(nodes)
    tree = b"".join(_pack_node(_record_value(l, count), _record_value(r, count), record_size)
                    for l, r in nodes)
    metadata = {
        "node_count": Typed(UINT32, count),
        "record_size": Typed(UINT16, record_size),
        "ip_version": Typed(UINT16, ip_version),
        "database_type": database_type,
        "languages": list(languages),
        "binary_format_major_version": Typed(UINT16, 2),
        "binary_format_minor_version": Typed(UINT16, 0),
        "build_epoch": Typed(UINT64, int(time.time()) if build_epoch is None else build_epoch),
        "description": {"en": description},
    }
    return tree + bytes(16) + bytes(section) + METADATA_MARKER + encode(metadata)


def write(path, networks, **options):
    with open(path, "wb") as f:
        f.write(build(networks, **options))


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: mmdb_writer.py SPEC.json OUT.mmdb\n")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    networks = [tuple(n) for n in spec.pop("networks")]
    write(argv[2], networks, **spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
