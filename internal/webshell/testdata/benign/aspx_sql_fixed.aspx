<%@ Page Language="C#" %>
<%@ Import Namespace="System.Configuration" %>
<%@ Import Namespace="System.Data.SqlClient" %>
<%
using (var conn = new SqlConnection(ConfigurationManager.ConnectionStrings["shop"].ConnectionString)) {
    conn.Open();
    var cmd = new SqlCommand("SELECT name FROM items WHERE id = @id", conn);
    cmd.Parameters.AddWithValue("@id", Request.QueryString["id"]);
    Response.Write(Server.HtmlEncode((string)cmd.ExecuteScalar()));
}
%>
