"""The mail action, through a real MTA (msmtp as sendmail, relaying to an SMTP
server on 127.0.0.1), each message parsed back by Python's email package."""
import json
import os
import subprocess
import threading

import pytest

from cgi_run import CGISite
from mail_server import MailServer
from stack import free_port

MAIL = ('{ type: "mail", to: ["担当者 😀 <ops@example.jp>", "second@example.jp"], '
        'from: "チャット通知 <noreply@example.jp>", envelopeSender: "bounces@example.jp", '
        'sendmail: "bin/sendmail", replyToItem: "メールアドレス" }')


@pytest.fixture
def smtp():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def site(tmp_path, smtp):
    s = CGISite(tmp_path / "site", {"form": [MAIL], "chat-end": [MAIL]})
    smtp.write_sendmail(s.root / "bin" / "sendmail")
    return s


def test_a_form_answer_arrives_with_japanese_and_emoji_intact(site, smtp):
    form = site.sample("form")
    form["subject"] = "パスワード😀の再発行について、" + "とても長い件名が続きます。" * 4
    r = site.post("form", form)
    assert r.status == 200, r.body
    [m] = smtp.wait_for(1)
    assert m.mail_from == "bounces@example.jp"
    assert sorted(m.rcpt_tos) == ["ops@example.jp", "second@example.jp"]
    msg = m.message
    assert msg["Subject"] == "[フォーム回答] " + form["subject"]
    assert msg["From"].addresses[0].display_name == "チャット通知"
    assert msg["From"].addresses[0].addr_spec == "noreply@example.jp"
    assert [a.display_name for a in msg["To"].addresses] == ["担当者 😀", ""]
    assert msg["Reply-To"].addresses[0].addr_spec == "user-sample-1@rakus.co.jp"
    assert msg["MIME-Version"] == "1.0" and msg["Date"] and msg["Message-ID"].startswith("<" + r.json["id"])
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    for item in form["item"]:
        assert f"{item['item_name']}: {item['item_value']}" in m.body
    assert "パスワードを忘れてしまいました。" in m.body
    # Every line of the header is within 76 columns (the body is base64).
    for line in m.raw.split(b"\r\n\r\n")[0].split(b"\r\n"):
        assert len(line) <= 76, line


def test_a_subject_carrying_headers_adds_no_recipient(site, smtp):
    form = site.sample("form")
    form["subject"] = "help\r\nBcc: x@example.com\r\nX-Injected: 1"
    form["item"][1]["item_value"] = "a@example.jp\r\nBcc: y@example.com"
    assert site.post("form", form).status == 200
    [m] = smtp.wait_for(1)
    assert sorted(m.rcpt_tos) == ["ops@example.jp", "second@example.jp"]
    assert m.message["Bcc"] is None and m.message["X-Injected"] is None
    assert m.message["Reply-To"] is None  # not a single valid address: not used
    assert "help  Bcc: x@example.com" in m.message["Subject"]


@pytest.mark.parametrize("value", ["a@example.jp, b@example.jp", "not an address", "Name <a@example.jp>"])
def test_reply_to_is_only_a_single_bare_address(site, smtp, value):
    form = site.sample("form")
    form["item"][1]["item_value"] = value
    assert site.post("form", form).status == 200
    [m] = smtp.wait_for(1)
    assert m.message["Reply-To"] is None


def test_a_finished_chat_lists_the_whole_transcript_in_order(site, smtp):
    chat = site.sample("chat-end")
    chat["chat_detail"] = [{"msg_type": "visitor" if i % 2 else "staff", "post_user": f"user{i}",
                            "post_date": f"2020/12/10 18:{i:02d}:00", "msg": f"メッセージ {i} 🍣"} for i in range(30)]
    assert site.post("chat-end", chat).status == 200
    [m] = smtp.wait_for(1)
    positions = [m.body.index(f"メッセージ {i} 🍣") for i in range(30)]
    assert positions == sorted(positions)
    assert "[2020/12/10 18:29:00] user29" in m.body
    assert m.message["Subject"] == "[チャット終了] チャットID 21252"


def test_without_sendmail_the_mail_is_spooled_then_sent_by_retry(site, smtp):
    sendmail = site.root / "bin" / "sendmail"
    sendmail.rename(site.root / "bin" / "sendmail.away")
    r = site.post("form", site.sample("form"))
    # 202: accepted and journaled; the mail waits in the spool.
    assert r.status == 202, r.body
    assert r.json["ok"] is True and "spooled" in r.json["deferred"][0]
    assert len(site.journal_lines()) == 1
    spooled = list((site.root / "data" / "spool").glob("*.mail"))
    assert [p.name for p in spooled] == [r.json["id"] + "-0.mail"]
    assert "could not be started" in r.stderr
    # Still missing: retry keeps it.
    assert site.cli("retry").returncode == 1
    assert len(list((site.root / "data" / "spool").glob("*.mail"))) == 1
    (site.root / "bin" / "sendmail.away").rename(sendmail)
    done = site.cli("retry")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list((site.root / "data" / "spool").glob("*.mail"))
    [m] = smtp.wait_for(1)
    assert m.message["Subject"].startswith("[フォーム回答]")


def test_an_mta_that_fails_spools_too(site, smtp):
    # msmtp pointed at a port where nothing listens: it exits non-zero.
    sendmail = site.root / "bin" / "sendmail"
    working = sendmail.read_text()
    sendmail.write_text(working.replace(f"--port={smtp.port}", f"--port={free_port()}"))
    r = site.post("form", site.sample("form"))
    assert r.status == 202 and "sendmail exited with status" in r.json["deferred"][0]
    assert "msmtp" in r.stderr  # its own words reach the error log
    sendmail.write_text(working)
    assert site.cli("retry").returncode == 0
    assert len(smtp.wait_for(1)) == 1


def test_two_retries_at_once_send_each_message_exactly_once(site, smtp):
    (site.root / "bin" / "sendmail").rename(site.root / "bin" / "sendmail.away")
    ids = [site.post("form", dict(site.sample("form"), chat_id=str(i))).json["id"] for i in range(20)]
    (site.root / "bin" / "sendmail.away").rename(site.root / "bin" / "sendmail")
    runs = [subprocess.Popen([str(site.bin / "chathooks"), "retry", str(site.config)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in range(2)]
    for p in runs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    messages = smtp.wait_for(20)
    assert len(messages) == 20
    assert sorted(m.message["Message-ID"] for m in messages) == sorted(f"<{i}.0@example.jp>" for i in ids)
    assert not list((site.root / "data" / "spool").glob("*.mail"))
