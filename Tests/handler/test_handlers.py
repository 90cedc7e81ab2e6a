"""Black-box tests: the built handlers, run as CGI processes (see conftest.py)."""
import copy
import json
import re
import urllib.parse
from pathlib import Path
from datetime import datetime

import bcrypt
import pytest

from cgi_site import (ADDRESS, CLIENT_SECRET, EMPTY_MESSAGE, TOKEN1, TOKEN2, WEBHOOK_KEY, Site)

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "samples"
# The vendor's samples (chatdealer-external-api.txt), made valid JSON, shipped in examples/samples.
SAMPLES = {event: json.loads((SAMPLES_DIR / f"{event}.json").read_text(encoding="utf-8"))
           for event in ["chat-start", "chat-message", "chat-end", "scenario", "form"]}

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")


def handler(event):
    return "spalo-dataset" if event == "dataset" else f"chatdealer-{event}"


def ulid_ms(ulid):
    n = 0
    for c in ulid[:10]:
        n = n * 32 + CROCKFORD.index(c)
    return n


def check_record(record, *, source, event, request_id, payload, webhook=None):
    # SPALO's records name the configured webhook that took them.
    expected_keys = ["received_at", "source", "event"] + (["webhook"] if source == "spalo" else []) \
        + ["request_id", "remote_addr", "payload"]
    assert list(record) == expected_keys
    if source == "spalo":
        assert record["webhook"] == (webhook or "dataset")
    assert RFC3339.match(record["received_at"]), record["received_at"]
    received = datetime.fromisoformat(record["received_at"])
    assert received.utcoffset().total_seconds() == 9 * 3600  # TZ=JST-9 in the CGI environment
    assert ulid_ms(request_id) == round(received.timestamp() * 1000)  # one clock reading for both
    assert (record["source"], record["event"], record["request_id"]) == (source, event, request_id)
    assert record["remote_addr"] == "203.0.113.7"
    assert record["payload"] == payload
    assert list(record["payload"]) == list(payload)  # member order kept


def assert_ok(result):
    assert result.returncode == 0, result.stderr
    assert (result.status, result.reason) == (200, "OK"), result.body
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert list(body) == ["ok", "id"] and body["ok"] is True
    assert ULID.match(body["id"])
    return body["id"]


def assert_error(site, result, status, code, *message_parts, journal_before=()):
    assert result.returncode == 0, result.stderr
    assert result.status == status, result.body
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert list(body) == ["ok", "error", "message"], body
    assert body["ok"] is False and body["error"] == code
    for part in message_parts:
        assert part in body["message"], body["message"]
    assert site.journal_lines() == list(journal_before), "a refused request reached the journal"
    return body


# --- Chat Dealer: accepted ---------------------------------------------------------------------

@pytest.mark.parametrize("event", list(SAMPLES))
def test_vendor_sample_is_accepted_and_journaled(site, event):
    result = site.run(handler(event), SAMPLES[event])
    rid = assert_ok(result)
    [record] = site.journal()
    check_record(record, source="chatdealer", event=event, request_id=rid, payload=SAMPLES[event])
    assert TOKEN1 not in site.journal_path.read_text()


def test_chat_end_appends_the_journal_line_to_the_chat_file(site):
    rid = assert_ok(site.run("chatdealer-chat-end", SAMPLES["chat-end"]))
    chat_file = site.root / "data" / "chats" / "21252.jsonl"
    assert chat_file.read_text(encoding="utf-8").splitlines() == site.journal_lines()
    assert json.loads(site.journal_lines()[0])["request_id"] == rid


def test_chat_id_cannot_lead_a_file_outside_the_chats_folder(site):
    before = {p for p in site.root.parent.rglob("*")}
    payload = {**SAMPLES["chat-end"], "chat_id": "../../evil"}
    assert_ok(site.run("chatdealer-chat-end", payload))
    chats = site.root / "data" / "chats"
    [inside] = list(chats.iterdir())
    assert inside.is_file() and inside.read_text(encoding="utf-8").splitlines() == site.journal_lines()
    assert json.loads(inside.read_text())["payload"]["chat_id"] == "../../evil"
    created = {p for p in site.root.parent.rglob("*")} - before
    # The append action's outcome is on record beside the journal.
    assert created == {site.root / "data", site.journal_path, site.root / "data" / "outcomes.jsonl", chats, inside}


def test_unknown_fields_and_number_literals_are_kept_as_sent(site):
    body = ('{"event_date":"2020/12/10 15:29:08","chat_id":21252,"visitor_id":30660,'
            '"visit_count":181,"score":1.10,"big":12345678901234567890,"exp":1e5,'
            '"extra":{"nested":[true,null,"x"]}}')
    assert_ok(site.run("chatdealer-chat-start", body))
    [line] = site.journal_lines()
    payload_text = line[line.index('"payload":') + len('"payload":'):-1]
    assert payload_text == body
    assert json.loads(line)["payload"]["chat_id"] == 21252


def test_second_token_from_the_environment_is_accepted(site):
    assert_ok(site.run("chatdealer-chat-start", SAMPLES["chat-start"], token=TOKEN2))
    assert len(site.journal()) == 1


def test_form_urlencoded_body_is_journaled_as_strings(site):
    fields = {k: v for k, v in SAMPLES["chat-start"].items()}
    body = urllib.parse.urlencode(fields)
    rid = assert_ok(site.run("chatdealer-chat-start", body,
                             content_type="application/x-www-form-urlencoded; charset=UTF-8"))
    [record] = site.journal()
    check_record(record, source="chatdealer", event="chat-start", request_id=rid, payload=fields)


@pytest.mark.parametrize("event,changes", [
    ("form", {"agree_optin": "true", "agree_privacy_policy": "false"}),
    ("form", {"item": [{"item_name": "年齢", "item_value": 42}]}),
    ("chat-start", {"chat_id": 21252, "visitor_id": 30660, "visit_count": 181}),
    ("chat-start", {"memo": "not in the document"}),
    ("chat-message", {"msg_type": "staff", "visitor_id": None}),
    ("chat-end", {"chat_detail": []}),
], ids=["form-bool-strings", "form-number-value", "ids-as-numbers", "unknown-field",
        "null-is-absent", "empty-transcript"])
def test_lenient_variants_are_accepted(site, event, changes):
    payload = {**SAMPLES[event], **changes}
    rid = assert_ok(site.run(handler(event), payload))
    [record] = site.journal()
    check_record(record, source="chatdealer", event=event, request_id=rid, payload=payload)


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/json; charset=utf-8"])
def test_body_is_json_whatever_the_content_type_says(site, content_type):
    assert_ok(site.run("chatdealer-chat-start", SAMPLES["chat-start"], content_type=content_type))


# --- Chat Dealer: refused ----------------------------------------------------------------------

def test_missing_or_wrong_token_is_401_and_no_secret_leaks(site):
    for token, part in [(None, "header is missing"), ("tok-aaaaaaaaaaaaaaab", "accepted token"),
                        ("", "accepted token"), (TOKEN1 + "x", "accepted token")]:
        result = site.run("chatdealer-chat-start", SAMPLES["chat-start"], token=token)
        assert_error(site, result, 401, "unauthorized", "X-Chathooks-Token", part)
        for text in (result.stdout.decode("utf-8"), result.stderr):
            assert TOKEN1 not in text and TOKEN2 not in text
            assert not token or token not in text


def test_token_is_checked_before_the_body_is_read(site):
    result = site.run_stdin_open("chatdealer-chat-start", length=100, token="wrong")
    assert_error(site, result, 401, "unauthorized")


def test_get_is_405_with_allow_header(site):
    result = site.run("chatdealer-chat-start", b"", method="GET", length=None)
    assert_error(site, result, 405, "method_not_allowed", "POST")
    assert result.headers["allow"] == "POST"


@pytest.mark.parametrize("length", ["4097", "99999999999999999999999"])
def test_too_large_content_length_is_413_without_reading(site, length):
    result = site.run_stdin_open("chatdealer-chat-start", length=length)
    assert_error(site, result, 413, "body_too_large", "4096")


def test_missing_content_length_is_411(site):
    result = site.run("chatdealer-chat-start", json.dumps(SAMPLES["chat-start"]),
                      length=None, drop=["CONTENT_LENGTH"])
    assert_error(site, result, 411, "length_required", "Content-Length")


def test_body_shorter_than_content_length_is_400(site):
    body = json.dumps(SAMPLES["chat-start"]).encode()
    result = site.run("chatdealer-chat-start", body, length=len(body) + 10)
    assert_error(site, result, 400, "truncated_body", f"after {len(body)} of the {len(body) + 10} bytes")


BAD_BODIES = [
    # (name, body, content type, status, code, message parts)
    ("invalid-utf8", b'{"event_date":"2020/12/10 15:29:08","chat_id":"\xff"}', "application/json",
     400, "invalid_utf8", ["UTF-8", "byte 47"]),
    ("invalid-json", b'{\n  "chat_id": "1",\n  "event_date": }', "application/json",
     400, "invalid_json", ["line 3, column 17"]),
    ("json-array", b'[{"chat_id":"1"}]', "application/json", 400, "invalid_json", ["must be a JSON object", "array"]),
    ("json-string", b'"hello"', "application/json", 400, "invalid_json", ["must be a JSON object", "string"]),
    ("duplicate-key", b'{"event_date":"2020/12/10 15:29:08","chat_id":"1","chat_id":"2"}', "application/json",
     400, "invalid_json", ['duplicate key "chat_id"']),
    ("empty-object", b"{}", "application/json", 400, "invalid_field", ["event_date: is required"]),
    ("empty-body", b"", "application/json", 400, "empty_body", ["empty"]),
    ("multipart", b"--x\r\n\r\n--x--\r\n", "multipart/form-data; boundary=x", 415, "unsupported_media_type",
     ["multipart bodies"]),
    ("form-duplicate", b"chat_id=1&chat_id=2", "application/x-www-form-urlencoded", 400, "invalid_form", ["chat_id"]),
    ("form-bad-utf8", b"chat_id=%FF&event_date=2020%2F12%2F10+15%3A29%3A08", "application/x-www-form-urlencoded",
     400, "invalid_utf8", ["UTF-8"]),
]


@pytest.mark.parametrize("body,content_type,status,code,parts",
                         [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_bad_body_is_refused(site, body, content_type, status, code, parts):
    result = site.run("chatdealer-chat-start", body, content_type=content_type)
    assert_error(site, result, status, code, *parts)
    assert f"{status} {code}" in result.stderr


def test_content_length_that_is_not_a_number_is_400(site):
    result = site.run("chatdealer-chat-start", b"{}", length="2 ")
    assert_error(site, result, 400, "invalid_length", "Content-Length")


def test_compressed_body_is_415(site):
    result = site.run("chatdealer-chat-start", SAMPLES["chat-start"], extra={"HTTP_CONTENT_ENCODING": "gzip"})
    body = assert_error(site, result, 415, "unsupported_media_type", "Content-Encoding other than identity")
    assert "gzip" not in body["message"]  # a header's value is never repeated


DELETE = object()  # as a value in the tables below: remove the field


def with_change(event, path, value):
    payload = copy.deepcopy(SAMPLES[event])
    *parents, last = path
    target = payload
    for p in parents:
        target = target[p]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return payload


BAD_FIELDS = [
    # (event, path in the sample, new value, message parts)
    ("chat-start", ["chat_id"], {"id": 1}, ["chat_id: must be a string or a whole number, not an object"]),
    ("chat-start", ["chat_id"], 1.5, ["chat_id: ", "fraction"]),
    ("chat-start", ["chat_id"], "", ["chat_id: must not be empty"]),
    ("chat-start", ["chat_id"], DELETE, ["chat_id: is required"]),
    ("chat-start", ["event_date"], DELETE, ["event_date: is required"]),
    ("chat-start", ["event_date"], "2020-12-10", ["event_date: must be a date as yyyy/MM/dd HH:mm:ss"]),
    ("chat-start", ["event_date"], "2020/02/30 10:00:00", ["event_date: must be a date"]),
    ("chat-start", ["visit_count"], "abc", ["visit_count: must be a whole number"]),
    ("chat-start", ["visitor_id"], ["30660"], ["visitor_id: ", "array"]),
    ("chat-start", ["page_url"], 5, ["page_url: must be a string, not a number"]),
    ("chat-message", ["msg_type"], "robot", ["msg_type: must be staff, visitor or system"]),
    ("chat-message", ["post_date"], "2020/12/10", ["post_date: must be a date"]),
    ("chat-end", ["chat_detail"], "none", ["chat_detail: must be an array, not a string"]),
    ("chat-end", ["chat_detail", 1], "hello", ["chat_detail[1]: must be an object, not a string"]),
    ("chat-end", ["chat_detail", 1, "post_date"], "2020/12/10 25:00:00", ["chat_detail[1].post_date: must be a date"]),
    ("chat-end", ["chat_detail", 0, "msg_type"], "bot", ["chat_detail[0].msg_type: must be staff, visitor or system"]),
    ("chat-end", ["end_date"], 20201210, ["end_date: must be a string"]),
    ("scenario", ["parameter", 1, "prm2"], {"x": 1}, ["parameter[1].prm2: must be a string, not an object"]),
    ("scenario", ["parameter"], {"prm1": "val1"}, ["parameter: must be an array"]),
    ("form", ["agree_optin"], "maybe", ["agree_optin: must be true or false"]),
    ("form", ["agree_privacy_policy"], 1, ["agree_privacy_policy: must be true or false"]),
    ("form", ["item", 0, "item_name"], DELETE, ["item[0].item_name: is required"]),
    ("form", ["item", 1, "item_value"], ["a"], ["item[1].item_value: must be a string, not an array"]),
]


@pytest.mark.parametrize("event,path,value,parts", BAD_FIELDS,
                         ids=[f"{b[0]}:{'.'.join(map(str, b[1]))}" for b in BAD_FIELDS])
def test_wrong_field_is_400_naming_the_field(site, event, path, value, parts):
    result = site.run(handler(event), with_change(event, path, value))
    assert_error(site, result, 400, "invalid_field", *parts)


def test_refused_request_leaves_an_existing_journal_unchanged(site):
    assert_ok(site.run("chatdealer-chat-end", SAMPLES["chat-end"]))
    before = site.journal_lines()
    chat_file = site.root / "data" / "chats" / "21252.jsonl"
    result = site.run("chatdealer-chat-end", with_change("chat-end", ["chat_detail", 1, "msg_type"], "robot"))
    assert_error(site, result, 400, "invalid_field", "chat_detail[1].msg_type", journal_before=before)
    assert chat_file.read_text(encoding="utf-8").splitlines() == before


# --- Configuration problems --------------------------------------------------------------------

def test_missing_config_is_503_with_a_clear_log_line(site):
    missing = site.root / "nowhere.json5"
    result = site.run("chatdealer-chat-start", SAMPLES["chat-start"], extra={"CHATHOOKS_CONFIG": str(missing)})
    assert_error(site, result, 503, "not_configured")
    assert str(missing) in result.stderr and "no configuration file" in result.stderr
    assert str(missing) not in result.body.decode()


def test_config_syntax_error_is_503_naming_line_and_column(site):
    site.write_config('{\n  journal: { path: "j.jsonl" }\n  limits: {}\n}\n')
    result = site.run("chatdealer-chat-start", SAMPLES["chat-start"])
    assert_error(site, result, 503, "invalid_config", "the configuration file is invalid")
    assert "syntax error at line 3, column 3" in result.stderr
    assert not (site.root / "j.jsonl").exists()


def test_unreadable_config_is_503_saying_so(site):
    # A folder in the config's place: open succeeds, read fails (EISDIR), as
    # root too (root reads any file, so permissions cannot show it here).
    folder = site.root / "as-folder.json5"
    folder.mkdir()
    result = site.run("chatdealer-chat-start", SAMPLES["chat-start"], extra={"CHATHOOKS_CONFIG": str(folder)})
    assert_error(site, result, 503, "invalid_config", "the configuration file cannot be read")
    assert str(folder) in result.stderr and str(folder) not in result.body.decode()


def test_unset_token_variable_is_503_and_secrets_stay_out_of_logs(site):
    result = site.run("chatdealer-chat-start", SAMPLES["chat-start"], drop=["CD_TOKEN2"])
    assert_error(site, result, 503, "invalid_config", "the configuration file is invalid")
    assert "CD_TOKEN2" not in result.body.decode()
    assert "CD_TOKEN2 is not set" in result.stderr
    assert TOKEN1 not in result.stderr + result.stdout.decode()


def test_action_failure_is_500_but_the_event_is_journaled(site):
    text = site.config_path.read_text().replace("data/chats/{chat_id}.jsonl", "blocker/{chat_id}.jsonl")
    site.write_config(text)
    (site.root / "blocker").write_text("a file where a folder should be")
    result = site.run("chatdealer-chat-end", SAMPLES["chat-end"])
    assert result.returncode == 0 and result.status == 500
    body = result.json
    assert (body["ok"], body["error"]) == (False, "action_failed")
    [record] = site.journal()
    assert record["request_id"] == body["id"] and body["id"] in body["message"]


# --- SPALO -------------------------------------------------------------------------------------

def spalo_hash(prefix=b"2b", secret=CLIENT_SECRET):
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4, prefix=prefix)).decode()


def spalo_body(secret_hash=None, **changes):
    body = {"webhookKey": WEBHOOK_KEY, "secretHash": secret_hash or spalo_hash(), "event": "DATASET",
            "eventTime": "2023-01-18 09:40:30", "item_name": "外部データ設定",
            "data": [{"id": "C5", "type": "date", "value": "2023年01月18日", "title": "開始日"},
                     {"id": "C10", "type": "time", "value": "10時40分", "title": "終了時間"},
                     {"id": "C11", "type": "location", "value": "銀座", "title": "場所",
                      "latitude": 35.67, "longitude": "139.76"}],
            "botName": "業務日報", "info": {"userId": 123, "userName": "鈴木一郎", "email": "suzuki@spalo.co.jp"}}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not DELETE}


SPALO_ERROR_TEXT = "ただいまデータを取得できません。しばらくしてからもう一度お試しください。"


def assert_spalo_text(site, result, status, *parts, journal_before=(), text=SPALO_ERROR_TEXT):
    """A refused SPALO call: SPALO's text form, whose text (shown to the person
    chatting with the bot) says nothing of the cause; the cause, in `parts`,
    is in the error log, and the error code in X-Chathooks-Error. A 5xx goes
    out as 400 (SPALO shows a 5xx as a broken bot), the status meant in
    X-Chathooks-Status."""
    assert result.returncode == 0, result.stderr
    if status >= 500:
        assert (result.status, result.headers["x-chathooks-status"]) == (400, str(status)), result.body
    else:
        assert result.status == status, result.body
        assert "x-chathooks-status" not in result.headers
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert body == {"type": "text", "text": text}
    assert re.fullmatch(r"[a-z_]+", result.headers["x-chathooks-error"])
    for part in parts:
        assert part in result.stderr, result.stderr
    assert f"{status} {result.headers['x-chathooks-error']}" in result.stderr
    assert site.journal_lines() == list(journal_before)
    return body


@pytest.mark.parametrize("variant", ["2a", "2b", "2y", "event-lowercase"])
def test_spalo_dataset_is_answered_and_journaled_without_secrets(site, variant):
    secret_hash = spalo_hash(b"2a") if variant == "2a" else spalo_hash(b"2b")
    if variant == "2y":
        secret_hash = "$2y$" + secret_hash[4:]
    body = spalo_body(secret_hash, **({"event": "dataset"} if variant == "event-lowercase" else {}))
    result = site.run("spalo-dataset", body)
    assert result.returncode == 0 and result.status == 200, result.body
    assert result.headers["content-type"].startswith("application/json")
    assert result.json == {"type": "dataset", "actions": [{"key": "住所", "value": ADDRESS}]}
    [line] = site.journal_lines()
    expected = {k: v for k, v in body.items() if k not in ("webhookKey", "secretHash")}
    check_record(json.loads(line), source="spalo", event="dataset",
                 request_id=result.headers["x-chathooks-request-id"], payload=expected)
    for secret in (WEBHOOK_KEY, secret_hash, CLIENT_SECRET):
        assert secret not in line and secret not in result.stderr


def test_spalo_values_are_cut_to_50_characters(site):
    site.static = [{"key": "k" * 60, "value": "あ" * 51}, {"key": "絵文字", "value": "😀" * 30},
                   {"key": "短い", "value": ""}]
    site.write_config()
    result = site.run("spalo-dataset", spalo_body())
    assert result.status == 200, result.body
    # An emoji is two UTF-16 units; the cut fits 50 characters and 50 units.
    assert result.json["actions"] == [{"key": "k" * 50, "value": "あ" * 50}, {"key": "絵文字", "value": "😀" * 25},
                                      {"key": "短い", "value": ""}]


def test_spalo_empty_static_list_is_400_with_the_message_but_journaled(site):
    site.static = []
    site.write_config()
    result = site.run("spalo-dataset", spalo_body())
    assert result.returncode == 0 and result.status == 400
    assert result.json == {"type": "text", "text": EMPTY_MESSAGE}
    [record] = site.journal()
    assert record["source"] == "spalo" and record["request_id"] == result.headers["x-chathooks-request-id"]


@pytest.mark.parametrize("body", [b"", b"{}", json.dumps({"event": "dataset"}).encode()],
                         ids=["empty-body", "empty-object", "no-webhookKey"])
def test_spalo_url_check_without_webhook_key_is_200_and_not_journaled(site, body):
    result = site.run("spalo-dataset", body)
    assert result.returncode == 0 and result.status == 200
    assert result.json == {"type": "dataset", "actions": []}
    assert site.journal_lines() == []


def cost_31_hash():
    h = spalo_hash(b"2b")
    assert h.startswith("$2b$04$")
    return "$2b$31$" + h[7:]


SPALO_REFUSED = [
    # (name, body changes, status, text parts)
    ("wrong-key", {"webhookKey": "0" * 40}, 401, ["webhookKey does not match"]),
    ("key-not-string", {"webhookKey": 85126}, 401, ["webhookKey must be a string"]),
    ("no-hash", {"secretHash": DELETE}, 401, ["secretHash is missing"]),
    ("wrong-secret", {"secretHash": lambda: spalo_hash(secret="not-the-secret")}, 401, ["does not match"]),
    ("garbage-hash", {"secretHash": "$2b$10$garbage"}, 401, ["not a bcrypt hash"]),
    ("not-bcrypt", {"secretHash": lambda: "$2x$" + spalo_hash()[4:]}, 401, ["$2a$, $2b$ or $2y$"]),
    ("cost-31", {"secretHash": cost_31_hash}, 401, ["cost 31", "4 to 12"]),
    ("event-search", {"event": "search"}, 400, ["event: must be dataset"]),
    ("event-time", {"eventTime": "2023/01/18 09:40:30"}, 400, ["eventTime: must be a date as yyyy-MM-dd HH:mm:ss"]),
    ("data-value", {"data": [{"id": "C5", "value": {"a": 1}}]}, 400, ["data[0].value: must be a string"]),
    ("latitude", {"data": [{"id": "C5", "latitude": "north"}]}, 400, ["data[0].latitude: must be a number"]),
    ("info", {"info": "suzuki"}, 400, ["info: must be an object"]),
]


@pytest.mark.parametrize("changes,status,parts", [s[1:] for s in SPALO_REFUSED], ids=[s[0] for s in SPALO_REFUSED])
def test_spalo_refusals_use_spalo_text_form_and_journal_nothing(site, changes, status, parts):
    changes = {k: (v() if callable(v) else v) for k, v in changes.items()}
    result = site.run("spalo-dataset", spalo_body(**changes))
    assert_spalo_text(site, result, status, *parts)
    assert WEBHOOK_KEY not in result.body.decode() + result.stderr
    assert CLIENT_SECRET not in result.body.decode() + result.stderr


SPALO_TRANSPORT = [
    # (name, run options, body, status, text parts)
    ("get", {"method": "GET", "length": None}, b"", 405, ["POST"]),
    ("invalid-json", {}, b'{"webhookKey": ', 400, ["not valid JSON", "line 1, column 16"]),
    ("too-large", {"length": "99999999999999999999999"}, b"", 413, ["4096"]),
    ("no-length", {"drop": ["CONTENT_LENGTH"], "length": None}, b"{}", 411, ["Content-Length"]),
    ("no-config", {"extra": {"CHATHOOKS_CONFIG": "/nonexistent/chathooks.json5"}}, b"{}", 503, ["no configuration file"]),
]


def test_spalo_error_text_is_configurable_and_reveals_nothing(site):
    site.write_config(site.config_path.read_text(encoding="utf-8").replace(
        "spalo: {", 'spalo: {\n    errorText: "只今ご利用いただけません。",'))
    result = site.run("spalo-dataset", spalo_body(webhookKey="0" * 40))
    assert_spalo_text(site, result, 401, "webhookKey does not match", text="只今ご利用いただけません。")
    assert result.headers["x-chathooks-error"] == "unauthorized"


@pytest.mark.parametrize("kw,body,status,parts", [t[1:] for t in SPALO_TRANSPORT], ids=[t[0] for t in SPALO_TRANSPORT])
def test_spalo_transport_errors_use_spalo_text_form(site, kw, body, status, parts):
    result = site.run("spalo-dataset", body, **kw)
    assert_spalo_text(site, result, status, *parts)
    if status == 405:
        assert result.headers["allow"] == "POST"


# --- Concurrency -------------------------------------------------------------------------------

def test_sixteen_parallel_requests_each_get_one_whole_line(site):
    procs = [site.start("chatdealer-chat-end", {**SAMPLES["chat-end"], "n": i}) for i in range(16)]
    ids = [assert_ok(Site.finish(p)) for p in procs]
    records = site.journal()  # every line parses as JSON
    assert len(records) == 16 and len(set(ids)) == 16
    assert {r["request_id"] for r in records} == set(ids)
    assert sorted(r["payload"]["n"] for r in records) == list(range(16))
    chat_lines = (site.root / "data" / "chats" / "21252.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(chat_lines) == sorted(site.journal_lines())


def test_request_text_cannot_forge_log_lines(site):
    body = dict(SAMPLES["chat-start"], event_date="2020\nchathooks: spalo/dataset: 200 forged")
    result = site.run("chatdealer-chat-start", body)
    assert_error(site, result, 400, "invalid_field", "event_date")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    # The value is not repeated at all (a refusal never quotes the body), so nothing of it can forge a line.
    assert "forged" not in result.stderr


def blocked_reading_stdin(pid: int) -> bool:
    """Whether the process is inside read(2) on fd 0 (/proc/PID/syscall: number 0, first argument 0x0)."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except (FileNotFoundError, PermissionError):
        return False
    return len(fields) > 1 and fields[0] == "0" and fields[1] == "0x0"


@pytest.mark.parametrize("signal_name", ["SIGSEGV", "SIGABRT", "SIGILL"])
def test_a_crash_before_the_answer_is_still_answered(site, signal_name):
    """The crash guard, end to end: a real fatal signal arrives while the
    handler waits for its body; the web server still gets a whole 500 in JSON,
    the error log gets a line, nothing is journaled, and the process dies of
    that signal (so the crash is not hidden)."""
    import signal as signals
    proc = site.start("chatdealer-chat-start", b"", length=100)
    try:
        # Wait (bounded by a count of /proc reads, not by time) until the handler is
        # in its read of the body: by then the guard is installed.
        for _ in range(200_000):
            if blocked_reading_stdin(proc.pid) or proc.poll() is not None:
                break
        assert blocked_reading_stdin(proc.pid), "the handler never waited for its body"
        proc.send_signal(getattr(signals, signal_name))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -getattr(signals, signal_name)
    result = Site.result(proc.returncode, out, err)
    assert result.status == 500
    assert result.json == {"ok": False, "error": "internal_error",
                             "message": "the receiver failed; see the web server's error log"}
    assert "crashed" in result.stderr
    assert not site.journal_path.exists()
