#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (Tests/fuzz/corpus/<target>/) from
examples/ and a list of hostile variants. Re-run after changing a sample;
files libFuzzer found and `scripts/fuzz.sh long` proposed are kept beside
these (they are named by their SHA-1, these by what they are)."""
import json, os, pathlib, urllib.parse

root = pathlib.Path(__file__).resolve().parents[2]
out = root / "Tests/fuzz/corpus"
samples = {p.stem: p.read_bytes() for p in sorted((root / "examples/samples").glob("*.json"))}
config = (root / "examples/chathooks.json5").read_bytes()


def write(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# 1. request_body: JSON bodies as senders post them, and hostile ones.
for name, data in samples.items():
    write("request_body", f"sample-{name}.json", data)
    write("request_body", f"compact-{name}.json", json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")))
    write("request_body", f"ascii-{name}.json", json.dumps(json.loads(data)))
form = json.loads(samples["form"])
hostile_bodies = {
    "deep-64.json": '{"a":' * 63 + "1" + "}" * 63,
    "deep-65.json": "[" * 65 + "]" * 65,
    "duplicate-key.json": '{"chat_id":"1","chat_id":"2","event_date":"2020/12/10 15:29:08"}',
    "many-keys.json": "{" + ",".join(f'"k{i}":{i}' for i in range(40)) + ',"k3":0}',
    "bad-utf8.json": b'{"chat_id":"\xff\xfe","event_date":"2020/12/10 15:29:08"}',
    "overlong-utf8.json": b'{"msg":"\xc0\xaf\xe0\x80\xaf"}',
    "surrogates.json": r'{"msg":"\ud83d\ude00 \ud800 x","chat_id":1}',
    "lone-low-surrogate.json": r'{"msg":"\udc00"}',
    "escapes.json": r'{"msg":"\u0000\u001f\u2028\u2029\"\\\/\b\f\n\r\t","chat_id":"\u0031","event_date":"2020\/12\/10 15:29:08"}',
    "numbers.json": '{"chat_id":12345678901234567890123,"visit_count":-0,"a":1e400,"b":-1.5E-7,"c":0.0,"d":[1,2.50,3e+2]}',
    "bad-number.json": '{"chat_id":01}',
    "bom.json": b"\xef\xbb\xbf" + samples["chat-start"],
    "top-array.json": "[1,2,3]",
    "top-string.json": '"x"',
    "empty-object.json": "{}",
    "whitespace.json": " \t\r\n{ \"chat_id\" : \"1\" , \"event_date\" : \"2024/02/29 23:59:59\" } \n",
    "trailing.json": '{"chat_id":"1"} x',
    "control-char.json": '{"msg":"a\tb"}',
    "bad-dates.json": '{"chat_id":"1","event_date":"2023/02/29 10:00:00","post_date":"2020/13/01 00:00:00"}',
    "header-injection.json": json.dumps({**form, "subject": "hi\r\nBcc: victim@example.jp\r\n", "item": [
        {"item_name": "メールアドレス", "item_value": "a@b.jp\r\nBcc: x@y.jp"}, {"item_name": "n", "item_value": 5}]}, ensure_ascii=False),
    "long-subject.json": json.dumps({**form, "subject": "件名" * 300 + "x" * 900}, ensure_ascii=False),
    "reply-to.json": json.dumps({**form, "item": [{"item_name": "メールアドレス", "item_value": "  user@example.jp "}]}, ensure_ascii=False),
    "path-dots.json": '{"chat_id":"../../etc/passwd","event_date":"2020/12/10 15:29:08","visitor_id":".","botName":"/"}',
    "types-wrong.json": '{"chat_id":true,"event_date":1,"chat_detail":{},"item":[1],"parameter":[{"K":[]}],"data":[{"latitude":"x"}],"info":[]}',
    "nulls.json": '{"chat_id":"1","event_date":"2020/12/10 15:29:08","visitor_id":null,"msg_type":null,"chat_detail":null}',
    "msg-types.json": '{"chat_id":"1","event_date":"2020/12/10 15:29:08","msg_type":" system\t","chat_detail":[{"msg_type":"bot"}]}',
    "gps.json": '{"event":"dataset","data":[{"latitude":"35.6","longitude":139.7},{"latitude":" -1e3 "}]}',
    "agree-strings.json": '{"chat_id":"1","event_date":"2020/12/10 15:29:08","agree_optin":"true","agree_privacy_policy":"0"}',
    "secret-only.json": '{"webhookKey":"k","secretHash":"$2b$04$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui","event":"dataset"}',
}
for name, data in hostile_bodies.items():
    write("request_body", name, data)

# 2. form: urlencoded bodies.
def flat(obj):
    return {k: (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in obj.items()}

for name in ("form", "chat-start", "chat-message"):
    write("form", f"sample-{name}.txt", urllib.parse.urlencode(flat(json.loads(samples[name]))))
hostile_forms = {
    "plus-and-percent.txt": "subject=a+b%20c%2Bd&content=%E3%81%82%0D%0A",
    "bad-percent.txt": "a=%ZZ&b=%&c=%4&d=%%41",
    "duplicate.txt": "chat_id=1&chat_id=2",
    "bad-utf8.txt": "msg=%FF%FE&x=%C0%AF",
    "raw-utf8.txt": "subject=パスワード&chat_id=1".encode(),
    "raw-bad-utf8.txt": b"subject=\xff",
    "separators.txt": "&&a&=&==&b==c&&",
    "empty-name.txt": "=x",
    "json-as-form.txt": ' {"chat_id":"1","event_date":"2020/12/10 15:29:08"}',
    "nul.txt": "a=%00&b=\x00",
    "agree.txt": "chat_id=1&event_date=2020%2F12%2F10+15%3A29%3A08&agree_optin=1&agree_privacy_policy=false&item=x",
}
for name, data in hostile_forms.items():
    write("form", name, data)

# 3. config: JSON5 files.
write("config", "example.json5", config)
token = "0123456789abcdef0123456789abcdef"
configs = {
    "minimal-chatdealer.json5": f'{{chatdealer:{{auth:{{header:"X-Chathooks-Token",tokens:["{token}"]}},events:{{form:{{actions:[]}}}}}}}}',
    "minimal-spalo.json5": '{spalo:{webhookKey:"k",clientSecret:{env:"SPALO_SECRET"},dataset:{static:[{key:"a",value:""}]}}}',
    "actions.json5": f'''{{
  // every action type
  journal: {{ path: "/tmp/j.jsonl", fsync: false }},
  limits: {{ maxBodyBytes: 0x400, }},
  chatdealer: {{
    auth: {{ header: 'X_Token', tokens: [{{ env: "CHATDEALER_TOKEN" }}, "{token}", {{ file: "secrets/token" }}] }},
    events: {{
      form: {{ actions: [
        {{ type: "append", path: "data/{{chat_id}}/{{date}}.jsonl", fsync: true }},
        {{ type: "mail", to: ["Staff <staff@example.jp>", "b@example.jp"], from: "hooks@example.jp",
           subject: "{{{{subject}}}} {{{{#item}}}}{{{{item_name}}}}{{{{/item}}}}", body: "{{{{! c }}}}{{{{^x}}}}none{{{{/x}}}}{{{{{{content}}}}}}",
           replyToItem: "mail", timeout: 4, spool: "spool", sendmail: "/usr/sbin/sendmail" }},
        {{ type: "command", argv: ["bin/run", "--x"], timeout: 300, env: {{ A_B: "1", TOKEN: {{ env: "CHATDEALER_TOKEN" }} }} }},
      ] }},
      "chat-end": {{ actions: [ {{ type: "mail", to: "a@b.jp", from: "c@d.jp", subjectFile: "s.txt" }} ] }},
    }},
  }},
  spalo: {{ webhookKey: "x", clientSecret: "y", actions: [ {{ type: "command", argv: ["/bin/true"], timeout: 5 }} ],
    dataset: {{ emptyMessage: "なし", static: [ {{ key: "{'長' * 60}", value: "😀" }} ] }} }},
}}''',
    "problems.json5": '{jounral:{}, limits:{maxBodyBytes:-1}, chatdealer:{auth:{header:"Bad Header",tokens:[]},events:{nope:{}}}, spalo:{webhookKey:"85126C79CBF9FE36BB9D05D0639C70C235C18D37",clientSecret:"change-me",actions:[{type:"fax"},{},1]}}',
    "secrets.json5": '{chatdealer:{auth:{header:"Authorization",tokens:[{env:"HTTP_X_TOKEN"},{env:"REDIRECT_X"},{env:"content_length"},{env:"UNSET"},{file:"/dev/null"},{env:"A",file:"b"},{},""]},events:{}}}',
    "syntax.json5": "{a:1,/* c */ 'b':+.5e1, c:[1,2,], d:'\\x41\\u00e9\\0\\\n', e:NaN, f:Infinity, g:0x, h:0xFFFFFFFFFFFFFFFFF, }",
    "unicode-space.json5": "{\u00a0a\u2028:\u30001\ufeff}".encode(),
    "unterminated.json5": "{ a: 1 /* never ends",
    "templates.json5": '{chatdealer:{auth:{header:"X",tokens:["0123456789abcdef"]},events:{form:{actions:[{type:"mail",to:[],from:"x",subject:"{{#a}}",body:"{{/b}}",bodyFile:"b.txt"},{type:"append",path:"{}"},{type:"append",path:"a}"},{type:"append",path:"{a"}]}}}}',
    "deep.json5": "{a:" * 70 + "1" + "}" * 70,
}
for name, data in configs.items():
    write("config", name, data)

# 4. fastcgi_params: NUL-separated NAME=value entries.
def block(entries):
    return b"\0".join(e.encode() if isinstance(e, str) else e for e in entries)

nginx = ["QUERY_STRING=", "REQUEST_METHOD=POST", "CONTENT_TYPE=application/json", "CONTENT_LENGTH=346",
         "SCRIPT_NAME=/hooks/chatdealer/form", "REQUEST_URI=/hooks/chatdealer/form", "DOCUMENT_URI=/hooks/chatdealer/form",
         "DOCUMENT_ROOT=/var/www", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_SCHEME=https", "GATEWAY_INTERFACE=CGI/1.1",
         "SERVER_SOFTWARE=nginx/1.24.0", "REMOTE_ADDR=203.0.113.7", "REMOTE_PORT=51234", "SERVER_ADDR=192.0.2.1",
         "SERVER_PORT=443", "SERVER_NAME=example.jp", "REDIRECT_STATUS=200", f"HTTP_X_CHATHOOKS_TOKEN={token}",
         "HTTP_HOST=example.jp", "HTTP_CONTENT_LENGTH=346"]
params = {
    "nginx.bin": block(nginx),
    "apache-pathinfo.bin": block(["REQUEST_METHOD=POST", "PATH_INFO=/spalo/dataset", "SCRIPT_NAME=/chathooks.cgi",
                                  "CONTENT_LENGTH=0", "CONTENT_TYPE=application/x-www-form-urlencoded; charset=UTF-8"]),
    "duplicates.bin": block(["CONTENT_LENGTH=1", "CONTENT_LENGTH=2", "A=1", "A=", "=x", "=", "novalue", ""]),
    "lengths.bin": block(["CONTENT_LENGTH=0000000000000000000000012", "CONTENT_TYPE=multipart/form-data; boundary=x"]),
    "huge-length.bin": block(["CONTENT_LENGTH=99999999999999999999999999", "HTTP_CONTENT_ENCODING=gzip"]),
    "signed-length.bin": block(["CONTENT_LENGTH=+5", "HTTP_CONTENT_ENCODING=Identity", "PATH_INFO=chatdealer/chat-end///"]),
    "bad-utf8.bin": block([b"HTTP_X_CHATHOOKS_TOKEN=\xff\xfe", b"\xc3=\xa9", "PATH_INFO=/chatdealer/chat-start"]),
    "equals.bin": block(["HTTP_X=a=b=c", "CHATHOOKS_CONFIG=/nonexistent/x.json5", "PATH_INFO=/", "SCRIPT_NAME=//"]),
}
for name, data in params.items():
    write("fastcgi_params", name, data)

# 5. fastcgi_records: a FastCGI connection's bytes, as a web server sends them.
import struct

def record(kind, content=b"", request_id=1, padding=0):
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), padding, 0) + content + b"\0" * padding

def pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    name, value = (x.encode() if isinstance(x, str) else x for x in (name, value))
    return length(len(name)) + length(len(value)) + name + value

BEGIN, ABORT, END, PARAMS, STDIN, GET_VALUES = 1, 2, 3, 4, 5, 9
def begin(role=1, flags=0, request_id=1):
    return record(BEGIN, struct.pack(">HB5x", role, flags), request_id)

body = samples["form"]
env = [e.split("=", 1) for e in nginx]
env = [[k, str(len(body)) if k in ("CONTENT_LENGTH", "HTTP_CONTENT_LENGTH") else v] for k, v in env]
params_bytes = b"".join(pair(k, v) for k, v in env)
fcgi = {
    "nginx-form.bin": begin() + record(PARAMS, params_bytes) + record(PARAMS) + record(STDIN, body) + record(STDIN),
    "split-params.bin": begin(flags=1) + record(PARAMS, params_bytes[:7]) + record(PARAMS, params_bytes[7:], padding=3)
        + record(PARAMS) + record(STDIN, body[:100]) + record(STDIN, body[100:]) + record(STDIN),
    "long-lengths.bin": begin() + record(PARAMS, pair("HTTP_X_LONG", "v" * 300) + pair("N" * 200, "")) + record(PARAMS) + record(STDIN),
    "truncated-length.bin": begin() + record(PARAMS, b"\x80\x00") + record(PARAMS),
    "huge-length.bin": begin() + record(PARAMS, b"\xff\xff\xff\xff\x01ab") + record(PARAMS),
    # CVE-2025-23016: nameLen + valueLen + 2 overflowed int in ReadParams before 2.4.5.
    "overflow-lengths.bin": begin() + record(PARAMS, b"\xff\xff\xff\xff\xff\xff\xff\xff" + b"A" * 64) + record(PARAMS),
    # Found by fastcgi_records (FuzzFindingsTests): libfcgi 2.4.2-2+deb12u1 aborts on
    # lengths 0x5CDCDCDC + 0x5CDCDCDC (the CVE fix above does not cover the sum).
    "params-length-sum-overflow.bin": begin() + record(PARAMS, b"\xdc" * 8 + b"A" * 8),
    # Found by fastcgi_records: a management record of an unknown type leaks 48 bytes in libfcgi.
    "unknown-management-record.bin": record(0x3B, request_id=0) + begin() + record(PARAMS),
    "get-values.bin": record(GET_VALUES, pair("FCGI_MAX_CONNS", "") + pair("FCGI_MPXS_CONNS", ""), request_id=0) + begin() + record(PARAMS) + record(STDIN),
    "unknown-role.bin": begin(role=3) + begin(role=2, request_id=2) + record(PARAMS, pair("A", "1"), request_id=2) + record(PARAMS, request_id=2),
    "abort.bin": begin() + record(ABORT) + record(PARAMS),
    "bad-version.bin": b"\x02" + begin()[1:] + record(PARAMS),
    "other-request-id.bin": begin() + record(PARAMS, pair("A", "1"), request_id=7) + record(PARAMS) + record(STDIN, b"{}", request_id=9),
    "short-body.bin": begin() + record(PARAMS, pair("CONTENT_LENGTH", "500") + pair("REQUEST_METHOD", "POST")) + record(PARAMS) + record(STDIN, b"{\"a\":1}"),
}
for name, data in fcgi.items():
    write("fastcgi_records", name, data)

total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
print(f"seed corpus: {sum(1 for f in out.rglob('*') if f.is_file())} files, {total} bytes")
