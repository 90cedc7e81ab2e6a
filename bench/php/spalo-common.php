<?php
// What the three SPALO dataset scripts share (spalo-csv.php, spalo-sqlite.php,
// spalo-static.php), written the way a PHP user would: the request's checks,
// the webhook key and the bcrypt secretHash (password_verify), the journal
// line (file_put_contents with FILE_APPEND | LOCK_EX, as hook.php) and
// SPALO's reply. Settings come from the environment, as for hook.php:
// SPALO_WEBHOOK_KEY, SPALO_CLIENT_SECRET, HOOK_JOURNAL, and the source's own.

const SPALO_EMPTY = '設定できるデータがありません。';

function spalo_answer(int $status, array $body): never {
    http_response_code($status);
    header('Content-Type: application/json; charset=utf-8');
    echo json_encode($body, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
    exit;
}

function spalo_refuse(int $status, string $message): never {
    spalo_answer($status, ['type' => 'text', 'text' => $message]);
}

/** The accepted request: its payload, checked and journaled; returns the lookup key (info.email). */
function spalo_request(): string {
    if (($_SERVER['REQUEST_METHOD'] ?? '') !== 'POST') spalo_refuse(405, 'only POST is accepted');
    $payload = json_decode(file_get_contents('php://input'), true, 64, JSON_BIGINT_AS_STRING);
    if (!is_array($payload)) spalo_refuse(400, 'the body must be a JSON object');
    $key = $payload['webhookKey'] ?? null;
    $hash = $payload['secretHash'] ?? null;
    if (!is_string($key) || !hash_equals((string)getenv('SPALO_WEBHOOK_KEY'), $key)) spalo_refuse(401, 'unknown webhookKey');
    if (!is_string($hash) || !password_verify((string)getenv('SPALO_CLIENT_SECRET'), $hash)) spalo_refuse(401, 'wrong secretHash');
    if (($payload['event'] ?? null) !== 'DATASET') spalo_refuse(400, 'event must be DATASET');
    $email = $payload['info']['email'] ?? null;
    if (!is_string($email) || $email === '') spalo_refuse(400, 'info.email is missing');
    unset($payload['webhookKey'], $payload['secretHash']);
    $line = json_encode(['received_at' => date('c'), 'source' => 'spalo', 'event' => 'dataset',
                         'remote_addr' => $_SERVER['REMOTE_ADDR'] ?? '', 'payload' => $payload],
                        JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n";
    if (file_put_contents(getenv('HOOK_JOURNAL') ?: 'data/journal.jsonl', $line, FILE_APPEND | LOCK_EX) !== strlen($line)) {
        spalo_refuse(500, 'the event could not be written to the journal');
    }
    return $email;
}

/** SPALO's 200 with the row's values (column name → value), or its 400 with the message when there is none. */
function spalo_reply(?array $row): never {
    if (!$row) spalo_refuse(400, SPALO_EMPTY);
    $actions = [];
    foreach ($row as $k => $v) $actions[] = ['key' => (string)$k, 'value' => (string)$v];
    spalo_answer(200, ['type' => 'dataset', 'actions' => $actions]);
}
