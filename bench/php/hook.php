<?php
// The same job as a chathooks Chat Dealer receiver, written the way a PHP user
// would: json_decode, the same field checks, file_put_contents with
// FILE_APPEND | LOCK_EX, echo the JSON answer. Run by php-cgi (one process per
// request) and by PHP-FPM. Settings come from the environment, as for the C
// program: HOOK_JOURNAL, HOOK_FSYNC, HOOK_TOKEN, HOOK_MAX_BODY.

function answer(int $status, array $body): never {
    http_response_code($status);
    header('Content-Type: application/json; charset=utf-8');
    echo json_encode($body, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
    exit;
}

function refuse(int $status, string $code, string $message): never {
    answer($status, ['ok' => false, 'error' => $code, 'message' => $message]);
}

function field(object $o, string $key) {
    return isset($o->$key) ? $o->$key : null;  // missing or null: absent
}

function is_date($s): bool {
    if (!is_string($s) || !preg_match('#^(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})$#D', $s, $m)) return false;
    [, $y, $mo, $d, $h, $mi, $se] = array_map('intval', $m);
    return $y >= 1970 && checkdate($mo, $d, $y) && $h < 24 && $mi < 60 && $se < 60;
}

function check_string(object $o, string $path, string $key): void {
    $v = field($o, $key);
    if ($v !== null && !is_string($v)) refuse(400, 'invalid_field', "$path$key: must be a string");
}

function check_date(object $o, string $path, string $key, bool $required = false): void {
    $v = field($o, $key);
    if ($v === null) {
        if ($required) refuse(400, 'invalid_field', "$path$key: is required");
        return;
    }
    if (!is_date($v)) refuse(400, 'invalid_field', "$path$key: must be a date as yyyy/MM/dd HH:mm:ss");
}

function check_id(object $o, string $key, bool $required = false): void {
    $v = field($o, $key);
    if ($v === null) {
        if ($required) refuse(400, 'invalid_field', "$key: is required");
        return;
    }
    if (is_int($v)) return;
    if (!is_string($v)) refuse(400, 'invalid_field', "$key: must be a string or a whole number");
    if ($v === '') refuse(400, 'invalid_field', "$key: must not be empty");
}

function check_message(object $o, string $path): void {
    $type = field($o, 'msg_type');
    if ($type !== null && (!is_string($type) || !in_array(trim($type, " \t"), ['staff', 'visitor', 'system'], true))) {
        refuse(400, 'invalid_field', "{$path}msg_type: must be staff, visitor or system");
    }
    check_string($o, $path, 'post_user');
    check_date($o, $path, 'post_date');
    check_string($o, $path, 'msg');
}

function request_id(int $ms): string {
    // A ULID: 48 bits of milliseconds, 80 random bits, Crockford base 32.
    $alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    $bits = str_pad(decbin($ms), 48, '0', STR_PAD_LEFT);
    foreach (str_split(random_bytes(10)) as $byte) $bits .= str_pad(decbin(ord($byte)), 8, '0', STR_PAD_LEFT);
    $bits = '00' . $bits;
    $id = '';
    foreach (str_split($bits, 5) as $chunk) $id .= $alphabet[bindec($chunk)];
    return $id;
}

$event = basename($_SERVER['SCRIPT_NAME'] ?? '');
if ($event !== 'chat-message' && $event !== 'chat-end') refuse(404, 'not_found', 'no receiver at this path');
if (($_SERVER['REQUEST_METHOD'] ?? '') !== 'POST') refuse(405, 'method_not_allowed', 'only POST is accepted');
$token = (string)getenv('HOOK_TOKEN');
if ($token === '') refuse(503, 'not_configured', 'no token is configured');
if (!isset($_SERVER['HTTP_X_CHATHOOKS_TOKEN'])) refuse(401, 'unauthorized', 'the X-Chathooks-Token header is missing');
if (!hash_equals($token, $_SERVER['HTTP_X_CHATHOOKS_TOKEN'])) {
    refuse(401, 'unauthorized', 'the X-Chathooks-Token header does not hold an accepted token');
}
$length = $_SERVER['CONTENT_LENGTH'] ?? '';
if ($length === '') refuse(411, 'length_required', 'a Content-Length header is required');
if (!ctype_digit($length)) refuse(400, 'invalid_length', 'Content-Length must be a number of bytes');
if ((int)$length > (int)(getenv('HOOK_MAX_BODY') ?: 1048576)) refuse(413, 'body_too_large', 'the body is larger than the limit');

$body = file_get_contents('php://input');
$payload = json_decode($body, false, 512, JSON_BIGINT_AS_STRING);
if (!is_object($payload) || count(get_object_vars($payload)) === 0) {
    refuse(400, 'invalid_json', 'the body must be a non-empty JSON object');
}

check_date($payload, '', 'event_date', true);
check_id($payload, 'chat_id', true);
check_id($payload, 'visitor_id');
foreach (['visitor_key', 'page_url', 'page_title'] as $key) check_string($payload, '', $key);
if ($event === 'chat-message') {
    check_message($payload, '');
} else {
    check_date($payload, '', 'start_date');
    check_date($payload, '', 'end_date');
    $detail = field($payload, 'chat_detail');
    if ($detail !== null) {
        if (!is_array($detail)) refuse(400, 'invalid_field', 'chat_detail: must be an array');
        foreach ($detail as $i => $message) {
            if (!is_object($message)) refuse(400, 'invalid_field', "chat_detail[$i]: must be an object");
            check_message($message, "chat_detail[$i].");
        }
    }
}

$now = microtime(true);
$id = request_id((int)floor($now * 1000));
$record = [
    'received_at' => date('Y-m-d\TH:i:s.', (int)$now) . sprintf('%03d', (int)(($now - floor($now)) * 1000)) . date('P', (int)$now),
    'source' => 'chatdealer',
    'event' => $event,
    'request_id' => $id,
    'remote_addr' => $_SERVER['REMOTE_ADDR'] ?? '',
    'payload' => $payload,
];
$line = json_encode($record, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n";
$journal = getenv('HOOK_JOURNAL') ?: 'data/journal.jsonl';
if (getenv('HOOK_FSYNC') === '1') {
    // file_put_contents cannot fsync: the same append by hand (PHP 8.1+ has fsync()).
    $f = fopen($journal, 'a');
    $ok = $f && flock($f, LOCK_EX) && fwrite($f, $line) === strlen($line) && fsync($f);
    if ($f) fclose($f);
} else {
    $ok = file_put_contents($journal, $line, FILE_APPEND | LOCK_EX) === strlen($line);
}
if (!$ok) refuse(500, 'journal_failed', 'the event could not be written to the journal');
answer(200, ['ok' => true, 'id' => $id]);
