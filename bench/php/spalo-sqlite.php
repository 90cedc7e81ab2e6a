<?php
// A SPALO dataset lookup in SQLite (SPALO_DB), as a PHP user would write it:
// PDO, read-only, one prepared statement with the key bound.
require __DIR__ . '/spalo-common.php';

$email = spalo_request();
try {
    $db = new PDO('sqlite:' . getenv('SPALO_DB'), null, null,
                  [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::SQLITE_ATTR_OPEN_FLAGS => PDO::SQLITE_OPEN_READONLY]);
    $q = $db->prepare('SELECT 名前, 住所, 電話番号 FROM customers WHERE email = :key');
    $q->execute([':key' => $email]);
    $row = $q->fetch(PDO::FETCH_ASSOC);
} catch (PDOException $e) {
    error_log('spalo-sqlite: ' . $e->getMessage());
    spalo_refuse(400, 'ただいま検索できません。');
}
spalo_reply($row ?: null);
