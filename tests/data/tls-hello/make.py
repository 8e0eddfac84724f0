#!/usr/bin/env python3
"""Makes the fixtures of src/transform/tls/{hello,cert}.rs from real OpenSSL.

A self-signed certificate from the `openssl` CLI (its key is thrown away), then TLS 1.2 and
TLS 1.3 handshakes between Python `ssl` objects over memory BIOs (no sockets). The handshake
messages that travel in clear are written as hex of their bodies (without the 4-byte
handshake header): `<name>.hex`. `cert.der` is the certificate; `cert.openssl.txt` is what
`openssl x509` says of it (subject, issuer, dates, SHA-256 fingerprint), for the tests to
compare with.

Run from anywhere: python3 tests/data/tls-hello/make.py
"""

import os
import ssl
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def openssl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, **kw).stdout


def make_cert(tmp):
    key, pem = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", pem, "-days", "400",
            "-subj", "/C=DE/O=Mailscope Test/CN=mail.example.test",
            "-addext", "subjectAltName=DNS:mail.example.test,DNS:imap.example.test")
    der = openssl("x509", "-in", pem, "-outform", "DER")
    with open(os.path.join(HERE, "cert.der"), "wb") as f:
        f.write(der)
    text = openssl("x509", "-in", pem, "-noout", "-subject", "-issuer", "-startdate",
                   "-enddate", "-fingerprint", "-sha256", "-nameopt", "sep_comma_plus_space",
                   "-dateopt", "iso_8601")
    with open(os.path.join(HERE, "cert.openssl.txt"), "wb") as f:
        f.write(text)
    return key, pem


def flights(cctx, sctx, sni):
    """Runs one handshake; returns the bytes each side sent, flight by flight."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(c_in, c_out, server_hostname=sni)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    sent = {"client": [], "server": []}
    done = [False, False]
    for _ in range(10):
        for i, (obj, out, peer_in, who) in enumerate(
                [(client, c_out, s_in, "client"), (server, s_out, c_in, "server")]):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
            data = out.read()
            if data:
                sent[who].append(data)
                peer_in.write(data)
        if all(done):
            break
    assert all(done), "handshake did not finish"
    return sent


def clear_handshakes(flight):
    """The handshake messages of the records in clear at the start of a flight."""
    buf, i = b"", 0
    while i + 5 <= len(flight) and flight[i] == 22:
        n = int.from_bytes(flight[i + 3:i + 5], "big")
        buf += flight[i + 5:i + 5 + n]
        i += 5 + n
    msgs = []
    while len(buf) >= 4:
        n = int.from_bytes(buf[1:4], "big")
        msgs.append((buf[0], buf[4:4 + n]))
        buf = buf[4 + n:]
    return msgs


def write(name, body):
    with open(os.path.join(HERE, name + ".hex"), "w") as f:
        f.write(body.hex() + "\n")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        key, pem = make_cert(tmp)
        for version, tag in [(ssl.TLSVersion.TLSv1_2, "tls12"), (ssl.TLSVersion.TLSv1_3, "tls13")]:
            for sni in ["mail.example.test", None]:
                cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                cctx.check_hostname = False
                cctx.verify_mode = ssl.CERT_NONE
                cctx.maximum_version = version
                cctx.set_alpn_protocols(["imap", "smtp"])
                sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                sctx.load_cert_chain(pem, key)
                sctx.maximum_version = version
                sctx.set_alpn_protocols(["imap"])
                sent = flights(cctx, sctx, sni)
                prefix = tag if sni else tag + "-nosni"
                (t, ch), = clear_handshakes(sent["client"][0])
                assert t == 1
                write(prefix + "-client-hello", ch)
                if sni is None:
                    continue
                for t, body in clear_handshakes(sent["server"][0]):
                    if t == 2:
                        write(prefix + "-server-hello", body)
                    elif t == 11:
                        write(prefix + "-certificate", body)


if __name__ == "__main__":
    main()
