"""SMTP the way a client that pipelines with CHUNKING talks (RFC 2920, RFC 3030): after EHLO,
MAIL, two RCPT (one the server refuses) and BDAT ... LAST with the whole message go out in
one write, before any reply. Lower-case verbs, as some libraries send them. Used by
samples/make-samples.sh against the local Postfix."""
import socket

s = socket.create_connection(("127.0.0.1", 25))
f = s.makefile("rb")


def reply():
    lines = []
    while True:
        line = f.readline()
        lines.append(line)
        if line[3:4] != b"-":
            return lines


reply()
s.sendall(b"ehlo client.example.test\r\n")
caps = b"".join(reply())
assert b"CHUNKING" in caps and b"PIPELINING" in caps, caps
body = (
    b"From: carol@example.net\r\nTo: alice@example.test\r\n"
    b"Subject: pipelined BDAT\r\n\r\n"
    b"MAIL, RCPT, BDAT LAST and this chunk went out in one write.\r\n"
)
s.sendall(
    b"mail FROM:<carol@example.net>\r\n"
    b"rcpt TO:<alice@example.test>\r\n"
    b"rcpt TO:<nobody@example.test>\r\n"
    + b"BDAT %d LAST\r\n" % len(body)
    + body
)
for _ in range(4):
    print(b"".join(reply()).decode().strip())
s.sendall(b"quit\r\n")
reply()
s.close()
