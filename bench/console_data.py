"""A realistic journal of many events for the console's benchmark (bench/console.py):
written line by line in the exact form `JournalRecord.line` writes
(Sources/ChatHooksCore/Journal/Journal.swift), with the outcomes file beside it in
the form of `OutcomeLog.line` (Sources/ChatHooksCore/Actions/OutcomeLog.swift).

- The eight kinds, in a plausible mix: chats open (chat-start), talk (chat-message,
  most of the lines), fire scenarios, end with their transcript (chat-end), answer
  forms; SPALO bots look data up (dataset, search) and send answers (send).
- Times ascending over `days` days ending at `end`, busier in the daytime, in
  Japan's time (+09:00), with milliseconds; request ids are ULIDs of that time.
- Outcomes for the events with actions (chat-end: append; form: append, mail;
  SPALO send: append), a few of them deferred or failed, and some retries.
- A rare value (RARE, a visitor's e-mail address) in a handful of events spread
  over the whole journal (and in the messages of the chats it starts), for the
  text search that finds something.

`write(folder, rotate)` writes `journal.jsonl` and `outcomes.jsonl` (rotate "none")
or `journal-YYYY-MM.jsonl` and `outcomes-YYYY-MM.jsonl` (rotate "monthly", the
names of Sources/ChatHooksCore/Journal/JournalFiles.swift) and returns what the
benchmark needs to know about them (landmark events with their file and byte offset).
Deterministic for a given seed, end and count.
"""
import datetime
import json
import os
import random

JST = datetime.timezone(datetime.timedelta(hours=9))
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RARE = "rare-needle-7q3@example.jp"
RARE_EVENTS = 7
GENERATOR_VERSION = 2

# How often each kind arrives (weights), from what a busy Chat Dealer account with two SPALO bots sends.
KINDS = [("chatdealer", "chat-start", 8), ("chatdealer", "chat-message", 70), ("chatdealer", "chat-end", 7),
         ("chatdealer", "scenario", 4), ("chatdealer", "form", 3), ("spalo", "dataset", 3),
         ("spalo", "search", 3), ("spalo", "send", 2)]
SPALO_WEBHOOKS = {"dataset": "address", "search": "stores", "send": "answers"}
CHATDEALER_ADDRS = ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
SPALO_ADDRS = ["198.51.100.20", "198.51.100.21"]
PAGES = [("https://www.example.co.jp/", "中小企業向けクラウドサービス | 株式会社サンプル"),
         ("https://www.example.co.jp/pricing/", "料金プラン | 株式会社サンプル"),
         ("https://www.example.co.jp/support/faq/", "よくあるご質問 | サポート | 株式会社サンプル"),
         ("https://www.example.co.jp/contact/?utm_source=ad&utm_medium=cpc", "お問い合わせ | 株式会社サンプル")]
NAMES = ["らくす太郎", "山田花子", "佐藤一郎", "鈴木次郎", "高橋美咲", "田中健", "伊藤さくら", "渡辺翔"]
STAFF = ["サポート担当 中村", "営業 小林", "サポート担当 加藤"]
VISITOR_LINES = ["こんにちは", "料金について教えてください", "パスワードを忘れてしまいました。再発行できますか？",
                 "請求書の宛名を変更したいです", "ありがとうございました", "担当の方と話せますか",
                 "導入までどのくらいかかりますか？ 来月から使いたいと考えています。", "はい、お願いします"]
STAFF_LINES = ["お問い合わせありがとうございます。", "確認いたしますので少々お待ちください。",
               "パスワードの再発行はログイン画面の「パスワードをお忘れの方」からお手続きいただけます。",
               "ご不明な点がございましたらお気軽にお問い合わせください。", "承知いたしました。担当者よりご連絡いたします。"]
SYSTEM_LINES = ["ようこそ", "オペレーターにおつなぎします", "チャットを終了しました"]
STORES = ["銀座店", "新宿店", "梅田店", "博多店", "札幌店"]
FORM_SUBJECTS = ["パスワードの再発行について", "資料請求", "お見積りのご依頼", "解約について"]
MAIL_WHY = "sendmail exited with status 75 (temporary failure); the mail waits in the spool"
COMMAND_WHY = "scripts/on-form exited with status 1"


def ulid(ms, rnd):
    n = (ms << 80) | rnd.getrandbits(80)
    out = []
    for _ in range(26):
        out.append(CROCKFORD[n & 31])
        n >>= 5
    return "".join(reversed(out))


def iso(t):
    """`2026-11-22T22:10:05.123+09:00` from a JST datetime."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+09:00"


def dealer_date(t):
    return t.strftime("%Y/%m/%d %H:%M:%S")


def dumps(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def times(n, end, days, rnd):
    """n ascending JST datetimes over `days` days ending at `end`, denser in the day (09–21 h)."""
    start = end - datetime.timedelta(days=days)
    total = (end - start).total_seconds()
    out = []
    # Rejection sampling against a day profile: three times as likely between 9 and 21 h.
    while len(out) < n:
        s = rnd.random() * total
        hour = ((start + datetime.timedelta(seconds=s)).hour)
        if rnd.random() < (1.0 if 9 <= hour < 21 else 0.33):
            out.append(s)
    out.sort()
    return [start + datetime.timedelta(seconds=s) for s in out]


class Chats:
    """The chats open at a moment: each event of a chat picks one."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.open = []
        self.next_chat = 100000
        self.next_visitor = 500000

    def start(self, t):
        rnd = self.rnd
        self.next_chat += 1
        self.next_visitor += rnd.randint(0, 3)
        page = rnd.choice(PAGES)
        chat = {"chat_id": str(self.next_chat), "visitor_id": str(self.next_visitor),
                "visitor_key": f"user-{self.next_visitor}@example.jp", "name": rnd.choice(NAMES),
                "page": page, "start": t, "messages": [], "ip": f"192.0.2.{rnd.randint(1, 254)}"}
        self.open.append(chat)
        if len(self.open) > 40:
            self.open.pop(0)
        return chat

    def pick(self, t):
        if not self.open:
            return self.start(t)
        return self.open[int(self.rnd.random() ** 0.5 * len(self.open))]

    def end(self, t):
        if not self.open:
            self.start(t)
        return self.open.pop(self.rnd.randrange(len(self.open)))


def chat_base(chat, t):
    return {"event_date": dealer_date(t), "chat_id": chat["chat_id"], "visitor_id": chat["visitor_id"],
            "visitor_key": chat["visitor_key"]}


def message(chat, t, rnd):
    r = rnd.random()
    if r < 0.55:
        m = {"msg_type": "visitor", "post_user": chat["name"], "post_date": dealer_date(t), "msg": rnd.choice(VISITOR_LINES)}
    elif r < 0.92:
        m = {"msg_type": "staff", "post_user": rnd.choice(STAFF), "post_date": dealer_date(t), "msg": rnd.choice(STAFF_LINES)}
    else:
        m = {"msg_type": "system", "post_user": "自動応答（シナリオ型）", "post_date": dealer_date(t), "msg": rnd.choice(SYSTEM_LINES)}
    chat["messages"].append(m)
    if len(chat["messages"]) > 30:
        del chat["messages"][0]
    return m


def payload(source, event, t, chats, rnd, rare):
    """The payload of one event, as the journal keeps it (SPALO's webhookKey and secretHash removed)."""
    if source == "chatdealer":
        if event == "chat-start":
            chat = chats.start(t)
            if rare:
                chat["visitor_key"] = RARE
            p = chat_base(chat, t)
            p.update({"ip": chat["ip"], "visit_count": str(rnd.randint(1, 300)), "page_url": chat["page"][0],
                      "page_title": chat["page"][1]})
            return p
        if event == "chat-message":
            chat = chats.pick(t)
            p = chat_base(chat, t)
            p.update({"page_url": chat["page"][0], "page_title": chat["page"][1]})
            p.update(message(chat, t, rnd))
            return p
        if event == "chat-end":
            chat = chats.end(t)
            if not chat["messages"]:
                message(chat, t, rnd)
            p = chat_base(chat, t)
            p.update({"start_date": dealer_date(chat["start"]), "end_date": dealer_date(t), "page_url": chat["page"][0],
                      "page_title": chat["page"][1], "chat_detail": list(chat["messages"])})
            return p
        if event == "scenario":
            chat = chats.pick(t)
            p = chat_base(chat, t)
            p.update({"page_url": chat["page"][0], "page_title": chat["page"][1],
                      "parameter": [{"prm1": rnd.choice(["資料請求", "料金", "サポート"])}, {"prm2": str(rnd.randint(1, 9))}]})
            return p
        if event == "form":
            chat = chats.pick(t)
            email = RARE if rare else chat["visitor_key"]
            return {"event_date": dealer_date(t), "chat_id": chat["chat_id"], "visitor_id": chat["visitor_id"],
                    "subject": rnd.choice(FORM_SUBJECTS),
                    "content": "お世話になっております。\r\n" + rnd.choice(VISITOR_LINES) + "\r\nよろしくお願いいたします。",
                    "agree_optin": rnd.random() < 0.4, "agree_privacy_policy": True,
                    "item": [{"item_name": "名前", "item_value": chat["name"]},
                             {"item_name": "メールアドレス", "item_value": email},
                             {"item_name": "電話番号", "item_value": f"03-{rnd.randint(1000, 9999)}-{rnd.randint(1000, 9999)}"},
                             {"item_name": "会社名", "item_value": "株式会社サンプル" + str(rnd.randint(1, 500))}]}
    user = rnd.randint(100, 999)
    info = {"userId": user, "userName": rnd.choice(NAMES), "email": RARE if rare else f"staff{user}@example.jp"}
    stamp = t.strftime("%Y-%m-%d %H:%M:%S")
    if event == "dataset":
        return {"event": "DATASET", "eventTime": stamp, "item_name": "外部データ設定",
                "data": [{"id": "C5", "type": "date", "value": t.strftime("%Y年%m月%d日"), "title": "開始日"},
                         {"id": "C10", "type": "time", "value": f"{rnd.randint(9, 18)}時{rnd.randint(0, 59):02d}分", "title": "終了時間"}],
                "botName": "業務日報", "info": info}
    if event == "search":
        return {"event": "search", "eventTime": stamp, "item_name": "店舗",
                "data": [{"id": "C3", "type": "button", "value": rnd.choice(["東京都", "大阪府", "福岡県"]), "title": "都道府県"}],
                "botName": "来店予約", "info": info}
    day = t.strftime("%Y年%m月%d日")
    return {"event": "SEND", "historyId": rnd.randint(1000, 999999), "workspaceName": "株式会社サンプル", "groupName": "営業部",
            "botId": 42, "botName": "業務日報", "senderId": user, "senderName": info["userName"], "info": info,
            "dataDetail": [{"id": "C5", "type": "date", "value": day, "title": "開始日"},
                           {"id": "C8", "type": "button", "value": rnd.choice(STORES), "title": "訪問先"}],
            "data": {"開始日": day, "訪問先": rnd.choice(STORES)}}


# The actions the benchmark's config has (bench/console.py's config): which events have outcomes.
ACTIONS = {("chatdealer", "chat-end"): ["append"], ("chatdealer", "form"): ["append", "mail"],
           ("spalo", "send"): ["append"]}


def outcome_line(at, rid, source, event, webhook, received, run, actions):
    head = f'{{"at":"{iso(at)}","request_id":"{rid}","source":"{source}","event":"{event}"'
    if webhook:
        head += f',"webhook":"{webhook}"'
    parts = []
    for index, kind, outcome, why, ms in actions:
        a = f'{{"index":{index},"type":"{kind}","outcome":"{outcome}"'
        if why:
            a += ',"why":' + dumps(why)
        a += f',"ms":{ms}}}'
        parts.append(a)
    return head + f',"received_at":"{iso(received)}","run":"{run}","actions":[' + ",".join(parts) + "]}\n"


class Out:
    """One stream's files: one file, or one a month (by the line's local time)."""

    def __init__(self, folder, stem, rotate):
        self.folder, self.stem, self.rotate = folder, stem, rotate
        self.files = {}
        self.sizes = {}

    def name(self, t):
        return f"{self.stem}.jsonl" if self.rotate == "none" else f"{self.stem}-{t.strftime('%Y-%m')}.jsonl"

    def write(self, t, line):
        """Writes the line; returns (file name, byte offset of its start)."""
        name = self.name(t)
        f = self.files.get(name)
        if f is None:
            f = self.files[name] = open(os.path.join(self.folder, name), "wb", buffering=1 << 20)
            self.sizes[name] = 0
        b = line.encode()
        offset = self.sizes[name]
        f.write(b)
        self.sizes[name] = offset + len(b)
        return name, offset

    def close(self):
        for f in self.files.values():
            f.close()


def write(folder, rotate, n, end, days=60, seed=13):
    """Writes the journal and the outcomes into `folder`; returns the facts the benchmark checks against."""
    rnd = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    journal, outcomes = Out(folder, "journal", rotate), Out(folder, "outcomes", rotate)
    when = times(n, end, days, rnd)
    kinds = [(s, e) for s, e, _ in KINDS]
    weights = [w for _, _, w in KINDS]
    picks = rnd.choices(range(len(kinds)), weights=weights, k=n)
    rare_at = {int(n * (i + 0.5) / RARE_EVENTS) for i in range(RARE_EVENTS)}
    chats = Chats(rnd)
    console_rare = RARE
    facts = {"count": n, "kinds": {}, "rare": [], "problems": 0, "days": {}, "landmarks": {}}
    retries = []          # (time, line) of retries still to write, in time order
    middle = n // 2
    for i, t in enumerate(when):
        source, event = kinds[picks[i]]
        rare = i in rare_at
        if rare and event not in ("chat-start", "form", "dataset", "search", "send"):
            source, event = "chatdealer", "form"
        rid = ulid(int(t.timestamp() * 1000), rnd)
        webhook = SPALO_WEBHOOKS.get(event, "") if source == "spalo" else ""
        p = payload(source, event, t, chats, rnd, rare)
        line = (f'{{"received_at":"{iso(t)}","source":"{source}","event":"{event}"'
                + (f',"webhook":"{webhook}"' if webhook else "")
                + f',"request_id":"{rid}","remote_addr":"{rnd.choice(SPALO_ADDRS if source == "spalo" else CHATDEALER_ADDRS)}"'
                + ',"payload":' + dumps(p) + "}\n")
        # Retries due before this event are written first: the outcomes file is in time order too.
        while retries and retries[0][0] <= t:
            rt, rline = retries.pop(0)
            outcomes.write(rt, rline)
        name, offset = journal.write(t, line)
        route = f"{source}/{event}"
        facts["kinds"][route] = facts["kinds"].get(route, 0) + 1
        day = t.strftime("%Y-%m-%d")
        facts["days"][day] = facts["days"].get(day, 0) + 1
        if console_rare in line:
            # The rare events, and the chat-messages of a rare visitor's chat (its visitor_key).
            facts["rare"].append(rid)
        if i == 0:
            facts["landmarks"]["oldest"] = {"id": rid, "at": f"{name}:{offset}", "time": iso(t), "route": route}
        if i == middle:
            facts["landmarks"]["middle"] = {"id": rid, "at": f"{name}:{offset}", "time": iso(t), "route": route}
        if i == n - 1:
            facts["landmarks"]["newest"] = {"id": rid, "at": f"{name}:{offset}", "time": iso(t), "route": route}
        actions = ACTIONS.get((source, event))
        if actions:
            done = []
            failed_mail = False
            for index, kind in enumerate(actions):
                ms = f"{rnd.uniform(0.05, 0.6):.2f}" if kind == "append" else f"{rnd.uniform(8, 40):.2f}"
                if kind == "mail" and rnd.random() < 0.01:
                    done.append((index, kind, "deferred", MAIL_WHY, ms))
                    failed_mail = True
                elif kind == "append" and rnd.random() < 0.001:
                    done.append((index, kind, "failed", "data/forms: No space left on device", ms))
                    facts["problems"] += 1
                else:
                    done.append((index, kind, "done", "", ms))
            at = t + datetime.timedelta(milliseconds=rnd.randint(1, 40))
            outcomes.write(at, outcome_line(at, rid, source, event, webhook, t, "request", done))
            if failed_mail:
                # Half of the deferred mails were sent by a later retry, a quarter failed again, the rest wait.
                r = rnd.random()
                rt = t + datetime.timedelta(minutes=rnd.randint(5, 120))
                if r < 0.5:
                    retries.append((rt, outcome_line(rt, rid, source, event, webhook, t, "retry",
                                                     [(1, "mail", "done", "", "21.40")])))
                elif r < 0.75:
                    retries.append((rt, outcome_line(rt, rid, source, event, webhook, t, "retry",
                                                     [(1, "mail", "deferred", MAIL_WHY, "30.02")])))
                    facts["problems"] += 1
                else:
                    facts["problems"] += 1
                retries.sort(key=lambda x: x[0])
    for rt, rline in retries:
        if rt <= end:
            outcomes.write(rt, rline)
    journal.close()
    outcomes.close()
    facts["journal_files"] = sorted(journal.sizes.items())
    facts["outcomes_files"] = sorted(outcomes.sizes.items())
    facts["start"] = iso(when[0])
    facts["end"] = iso(when[-1])
    return facts
