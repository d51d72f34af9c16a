<?php
// XSLT calling a harmless PHP function to format dates in a feed.
$xsl = '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:php="http://php.net/xsl">
  <xsl:template match="/feed/item"><li><xsl:value-of select="php:function(\'ucfirst\', string(title))"/></li></xsl:template>
</xsl:stylesheet>';
$doc = new DOMDocument();
$doc->load(__DIR__ . '/feed.xml');
$proc = new XSLTProcessor();
$proc->registerPHPFunctions();
$proc->importStylesheet(DOMDocument::loadXML($xsl));
echo $proc->transformToXML($doc);
