<?php
// A SPALO dataset lookup in a CSV file (SPALO_CSV, UTF-8, a header row), as a
// PHP user would write it: fgetcsv from the top until the row whose `email`
// column equals info.email; no index, so every request reads up to that row.
require __DIR__ . '/spalo-common.php';

$email = spalo_request();
$f = fopen(getenv('SPALO_CSV'), 'rb');
if (!$f) spalo_refuse(400, 'ただいま検索できません。');
$header = fgetcsv($f);
$column = $header ? array_search('email', $header, true) : false;
if ($column === false) spalo_refuse(400, 'ただいま検索できません。');
$found = null;
while (($row = fgetcsv($f)) !== false) {
    if (($row[$column] ?? null) === $email) {
        $found = array_combine($header, $row);
        unset($found['email']);
        break;
    }
}
fclose($f);
spalo_reply($found);
