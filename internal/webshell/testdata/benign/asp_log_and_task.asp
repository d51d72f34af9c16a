<%
' Hand-written fixture: writes a log line and starts a fixed maintenance
' script that the page did not write.
Set fs = CreateObject("Scripting.FileSystemObject")
Set f = fs.OpenTextFile("c:\logs\maintenance.log", 8, True)
f.WriteLine Now() & " rotation requested"
f.Close
Set sh = CreateObject("WScript.Shell")
sh.Run "cscript.exe c:\tools\rotate.vbs", 0, False
Response.Write "Started."
%>
