<?php
// The same request answered with fixed values (SPALO_STATIC, a JSON object):
// the PHP baseline that the lookups' added cost is measured against.
require __DIR__ . '/spalo-common.php';

spalo_request();
spalo_reply(json_decode((string)getenv('SPALO_STATIC'), true));
