"""One strict reader of a CGI response (RFC 3875 §6) for every test tree:
a Status line, header lines each once, a blank line, then a body whose length
is the Content-Length announced."""


def parse_cgi(stdout: bytes):
    """Returns (status, reason, headers by lower-case name, body); asserts the form."""
    head, sep, body = stdout.partition(b"\r\n\r\n")
    assert sep, f"no blank line ending the CGI header in {stdout!r}"
    lines = head.decode("utf-8").split("\r\n")
    assert lines[0].startswith("Status: "), f"first line is not a Status line: {lines[0]!r}"
    code, _, reason = lines[0][len("Status: "):].partition(" ")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(": ")
        assert sep, f"malformed header line {line!r}"
        assert name.lower() not in headers, f"header {name} twice"
        headers[name.lower()] = value
    assert headers.get("content-length") == str(len(body)), "Content-Length does not match the body"
    return int(code), reason, headers, body
