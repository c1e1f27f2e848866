#!/usr/bin/env python3
"""Writes the seed corpora (fuzz/seeds/TARGET/NAME) from the vectors the unit tests use:
well-formed packets, queries, handshakes and replies, so that each fuzz target starts
from inputs that reach deep into its parser. Run again after changing a vector."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(proto, src, dst, payload):
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0,
                       bytes(src), bytes(dst))
    head = head[:10] + struct.pack("!H", csum(head)) + head[12:]
    return head + payload


def ipv6(proto, src, dst, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, bytes(src), bytes(dst)) + payload


def tcp(src, dst, sport, dport, flags, seq=1000, ack=0, data=b"", v6=False):
    opts = b"\x02\x04\x05\xb4" if flags & 0x02 else b""
    off = (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0) + opts + data
    pseudo = (bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(seg)) if not v6
              else bytes(src) + bytes(dst) + struct.pack("!I3xB", len(seg), 6))
    c = csum(pseudo + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return (ipv6 if v6 else ipv4)(6, src, dst, seg)


def udp(src, dst, sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 17, len(seg))
    seg = seg[:6] + struct.pack("!H", csum(pseudo + seg) or 0xFFFF) + seg[8:]
    return ipv4(17, src, dst, seg)


def dns_query(qid, name, qtype):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)


PROGRAM = [10, 241, 0, 2]
STACK = [10, 241, 0, 1]
DEST = [192, 0, 2, 1]
PROGRAM6 = [0xFD, 0x74, 0x6F, 0x72] + [0] * 11 + [2]
DEST6 = [0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [1]
VNET = bytes(10)  # a virtio-net header: no checksum offload asked, no segmentation

ONION = "a" * 56 + ".onion"
QUERIES = {
    "a": dns_query(1, "target.test", 1),
    "aaaa": dns_query(2, "target.test", 28),
    "ptr": dns_query(3, "1.2.0.192.in-addr.arpa", 12),
    "ptr6": dns_query(4, ".".join("0" * 31 + "1") + ".ip6.arpa", 12),
    "onion": dns_query(5, ONION, 1),
    "localhost": dns_query(6, "localhost", 1),
    "mx": dns_query(7, "target.test", 15),
}

syn = tcp(PROGRAM, DEST, 40000, 80, 0x02)
ack = tcp(PROGRAM, DEST, 40000, 80, 0x10, seq=1001, ack=1)
data = tcp(PROGRAM, DEST, 40000, 80, 0x18, seq=1001, ack=1, data=b"GET / HTTP/1.0\r\n\r\n")
fin = tcp(PROGRAM, DEST, 40000, 80, 0x11, seq=1019, ack=1)
rst = tcp(PROGRAM, DEST, 40000, 80, 0x04, seq=1019)
syn6 = tcp(PROGRAM6, DEST6, 40001, 443, 0x02, v6=True)
dns = udp(PROGRAM, STACK, 5353, 53, QUERIES["a"])
other_udp = udp(PROGRAM, DEST, 5353, 443, b"quic")
icmp = ipv4(1, PROGRAM, DEST, b"\x08\x00\xf7\xff\x00\x00\x00\x00")


def framed(flags, packets):
    return bytes([flags]) + b"".join(struct.pack("!H", len(p)) + p for p in packets)


def pieces(*chunks):
    return b"".join(bytes([len(c)]) + c for c in chunks)


SEEDS = {
    "packet_classify": {
        "syn": syn, "syn6": syn6, "dns": dns, "udp": other_udp, "icmp": icmp,
        "vnet-syn": VNET + syn,
    },
    "stack_receive": {
        "connection": framed(0, [syn, ack, data, fin]),
        "refused": framed(2, [syn, rst]),
        "dns": framed(0, [dns, other_udp, icmp]),
        "ipv6": framed(0, [syn6]),
        "vnet": framed(1, [VNET + syn, VNET + ack, VNET + data]),
    },
    "dns_query": dict(QUERIES),
    "socks_server": {
        "socks5-name": pieces(b"\x05\x01\x00", b"\x05\x01\x00\x03\x0btarget.test\x00\x50", b"GET /"),
        "socks5-auth": pieces(b"\x05\x02\x00\x02", b"\x01\x01u\x01p",
                              b"\x05\x01\x00\x01\xc0\x00\x02\x01\x00\x50"),
        "socks5-ipv6": pieces(b"\x05\x01\x00", b"\x05\x01\x00\x04" + bytes(DEST6) + b"\x01\xbb"),
        "socks5-localhost": pieces(b"\x05\x01\x00", b"\x05\x01\x00\x03\x09localhost\x00\x50"),
        "resolve": pieces(b"\x05\x01\x00", b"\x05\xf0\x00\x03\x0btarget.test\x00\x00"),
        "resolve-ptr": pieces(b"\x05\x01\x00", b"\x05\xf1\x00\x01\xc0\x00\x02\x01\x00\x00"),
        "socks4": pieces(b"\x04\x01\x00\x50\xc0\x00\x02\x01user\x00"),
        "socks4a": pieces(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00target.test\x00"),
    },
    "socks_reply": {
        "connect": b"\x00" + b"\x05\x00" + b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00",
        "connect-auth": b"\x04" + b"\x05\x02" + b"\x01\x00" + b"\x05\x00\x00\x01" + bytes(6),
        "connect-refused": b"\x00" + b"\x05\x00" + b"\x05\x05\x00\x01" + bytes(6),
        "resolve": b"\x01" + b"\x05\x00" + b"\x05\x00\x00\x01\xc0\x00\x02\x01\x00\x00",
        "resolve6": b"\x01" + b"\x05\x00" + b"\x05\x00\x00\x04" + bytes(DEST6) + b"\x00\x00",
        "resolve-ptr": b"\x02" + b"\x05\x00" + b"\x05\x00\x00\x03\x06a.test\x00\x00",
        "bound-name": b"\x00" + b"\x05\x00" + b"\x05\x00\x00\x03\x06a.test\x00\x50",
    },
    "control_reply": {
        "protocolinfo": b"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD "
                        b"COOKIEFILE=\"/run/tor/control.authcookie\"\r\n"
                        b"250-VERSION Tor=\"0.4.8.9\"\r\n250 OK\r\n",
        "bootstrap": b"250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=85 TAG=ap_conn_done "
                     b"SUMMARY=\"Connected to a relay to build circuits\"\r\n250 OK\r\n",
        "add-onion": b"250-ServiceID=" + b"a" * 56 + b"\r\n250-PrivateKey=ED25519-V3:"
                     + b"A" * 88 + b"\r\n250 OK\r\n",
        "authchallenge": b"250 AUTHCHALLENGE SERVERHASH=" + b"0" * 64 + b" SERVERNONCE="
                         + b"1" * 64 + b"\r\n",
        "data": b"250+info/names=\r\nversion -- The current version\r\n.\r\n250 OK\r\n",
        "refused": b"515 Authentication failed: Password did not match\r\n",
        "escaped": b"250 OK \"a\\\\b\\\"c\\n\"\r\n",
    },
    "config_values": {
        "conf": b"TorAddress 127.0.0.1\nTorPort 9050\nOnionAddrRange 127.42.42.0/24\n"
                b"SOCKS5Username alice\nSOCKS5Password secret\nAllowInbound 1\n"
                b"AllowOutboundLocalhost 2\nIsolatePID 1\nEnableIPv6 1\n"
                b"ConnectTimeout 30\nResolveTimeout 10\nTorControlPort 127.0.0.1:9051\n"
                b"TorControlPassword pw\nTorClient auto\n",
        "env": b"\x00::1\n\x019150\n\x02bob\n\x03\n\x041\n\x050\n\x061\n",
        "bad": b"TorPort 70000\nTorAddress nowhere\nUnknown x\n# comment\n\t \n",
    },
}


def main():
    for target, seeds in SEEDS.items():
        folder = os.path.join(HERE, "seeds", target)
        os.makedirs(folder, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
    print("seeds written for", len(SEEDS), "targets", file=sys.stderr)


if __name__ == "__main__":
    main()
